/**
 * The one way tests start berth. `spawnBerth` runs a real `bin/berth.js serve` process
 * with the given environment (or on embedded defaults), waits for its "berth is serving"
 * log line and reads the listeners' URLs from it; `runBerthCommand` runs a one-off
 * subcommand; `startTestBerth` starts berth inside the test's process. Every one is
 * stopped when its test ends.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/berth.js', import.meta.url));

export interface BerthProcess {
  url: string;
  internalUrl: string | null;
  /** The data directory `embedded` made, removed by stop(); null otherwise. */
  dataDir: string | null;
  child: ChildProcess;
  logs: string[];
  /** Everything the process printed, for a failing test's message. */
  output(): string;
  /** The exit code once the process has ended (-1 for a signal), else null. */
  exitCode(): number | null;
  /** SIGKILL: no shutdown code runs, as in a crash. */
  kill(): Promise<void>;
  /** SIGTERM, then SIGKILL if it has not ended within 10 s. */
  stop(): Promise<void>;
}

export interface SpawnOptions {
  /**
   * berth on its embedded defaults: a fresh data directory, and the machine's environment
   * without any berth, database, Redis or DigitalOcean setting. Without it the process
   * gets only PATH, HOME and `env`.
   */
  embedded?: boolean;
  /** Arguments for Node itself, before bin/berth.js (e.g. `--import` of a probe). */
  nodeArgs?: string[];
  timeoutMs?: number;
}

/** Spawns `bin/berth.js serve` and resolves once it says where it serves. */
export async function spawnBerth(
  env: Record<string, string> = {},
  options: SpawnOptions = {},
): Promise<BerthProcess> {
  const dataDir = options.embedded ? mkdtempSync(join(tmpdir(), 'berth-process-')) : null;
  const base = options.embedded
    ? {
        ...Object.fromEntries(
          Object.entries(process.env).filter(
            ([k]) => !/^(BERTH_|DATABASE_URL|REDIS_URL|DIGITALOCEAN_|PORT$|HOST$|INTERNAL_)/.test(k),
          ),
        ),
        HOST: '127.0.0.1',
        BERTH_DATA_DIR: dataDir!,
        BERTH_LOG_LEVEL: 'info',
        BERTH_EMULATOR_PORT: '0',
        BERTH_EMULATOR_SSH_PORT: '0',
        BERTH_EMULATOR_ACTIVE_AFTER_MS: '500',
      }
    : {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        // These tests exercise berth's processes, not droplets: light droplets keep them fast.
        BERTH_EMULATOR_HOSTS: 'light',
      };
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), BIN, 'serve'], {
    env: { ...base, PORT: '0', INTERNAL_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<{ url: string; internalUrl: string | null }>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`berth did not start:\n${logs.join('\n')}`)),
      options.timeoutMs ?? 60_000,
    );
    let buffered = '';
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString();
      let newline = buffered.indexOf('\n');
      while (newline !== -1) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        logs.push(line);
        try {
          const entry = JSON.parse(line) as { msg?: string; url?: string; internalUrl?: string | null };
          if (entry.msg === 'berth is serving' && entry.url) {
            clearTimeout(timer);
            resolve({ url: entry.url, internalUrl: entry.internalUrl ?? null });
          }
        } catch {
          // Not a log line (e.g. a plain error message); kept in `logs`.
        }
        newline = buffered.indexOf('\n');
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => logs.push(chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`berth exited with ${code}:\n${logs.join('\n')}`));
    });
  });
  const removeData = () => {
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  };
  const { url, internalUrl } = await ready.catch((error: unknown) => {
    child.kill('SIGKILL');
    removeData();
    throw error;
  });
  const ended = () => child.exitCode !== null || child.signalCode !== null;
  return {
    url,
    internalUrl,
    dataDir,
    child,
    logs,
    output: () => logs.join('\n'),
    exitCode: () => child.exitCode ?? (child.signalCode ? -1 : null),
    async kill() {
      if (!ended()) child.kill('SIGKILL');
      await exited;
      removeData();
    },
    async stop() {
      if (!ended()) {
        child.kill('SIGTERM');
        const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(force);
      }
      removeData();
    },
  };
}

export interface BerthCommand {
  child: ChildProcess;
  /** What it wrote so far, standard output and standard error, line by line. */
  lines: string[];
  /** The first line, already written or still to come, that `match` accepts. */
  line(match: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  /** How it ended, with everything it wrote on each stream. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  /** SIGKILL: no shutdown code runs, as when an operator's session dies. */
  kill(): Promise<void>;
}

/** Runs a one-off `berth` subcommand (`vault rotate`, `migrate`, …) with the given environment. */
export function runBerthCommand(args: string[], env: Record<string, string>): BerthCommand {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: { match: (line: string) => boolean; resolve: (line: string) => void }[] = [];
  const text = { stdout: '', stderr: '' };
  for (const name of ['stdout', 'stderr'] as const) {
    let partial = '';
    child[name]?.on('data', (chunk: Buffer) => {
      text[name] += chunk.toString();
      partial += chunk.toString();
      const complete = partial.split('\n');
      partial = complete.pop() ?? '';
      for (const line of complete) {
        lines.push(line);
        for (const waiter of waiters.filter((w) => w.match(line))) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    });
  }
  const exited = new Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
  }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal, ...text })));
  return {
    child,
    lines,
    exited,
    line(match, timeoutMs = 60_000) {
      const seen = lines.find(match);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no such line from berth ${args.join(' ')}:\n${lines.join('\n')}`)),
          timeoutMs,
        );
        const ended = () => {
          clearTimeout(timer);
          reject(new Error(`berth ${args.join(' ')} ended first:\n${lines.join('\n')}`));
        };
        void exited.then(ended);
        waiters.push({
          match,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
      });
    },
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * A whole berth inside the test's own process, as `berth serve` would start it: on random
 * ports, with a fresh data directory (PGlite on disk, generated master key and token
 * secret) and the in-process DigitalOcean emulator; stopping it removes the data. For
 * tests that need berth's objects as well as its ports; the rest spawn it.
 */
export async function startTestBerth(env: Record<string, string> = {}, options: { dataDir?: string } = {}) {
  // Loaded here, so that tests which only spawn berth do not load all of it.
  const [{ loadConfig }, { startServer }, { createLogger }] = await Promise.all([
    import('../../src/config/config.ts'),
    import('../../src/main.ts'),
    import('../../src/observability/logger.ts'),
  ]);
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'berth-e2e-'));
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    BERTH_DATA_DIR: dataDir,
    BERTH_LOG_LEVEL: 'silent',
    BERTH_EMULATOR_PORT: '0',
    BERTH_EMULATOR_SSH_PORT: '0',
    BERTH_EMULATOR_ACTIVE_AFTER_MS: '50',
    ...env,
  });
  const berth = await startServer(config, createLogger({ level: 'silent' }));
  return {
    berth,
    dataDir,
    async stop() {
      await berth.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
