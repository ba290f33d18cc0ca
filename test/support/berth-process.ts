/**
 * Runs real `berth serve` processes for end-to-end tests: spawns `bin/berth.js serve`
 * with the given environment, waits for its "berth is serving" log line and reads the
 * listeners' URLs from it. Every process is killed when the test ends.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/berth.js', import.meta.url));

export interface BerthProcess {
  url: string;
  internalUrl: string | null;
  child: ChildProcess;
  logs: string[];
  /** SIGKILL: no shutdown code runs, as in a crash. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export async function spawnBerth(env: Record<string, string>, timeoutMs = 60_000): Promise<BerthProcess> {
  const child = spawn(process.execPath, [BIN, 'serve'], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      PORT: '0',
      INTERNAL_PORT: '0',
      // These tests exercise berth's processes, not droplets: light droplets keep them fast.
      BERTH_EMULATOR_HOSTS: 'light',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<{ url: string; internalUrl: string | null }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`berth did not start:\n${logs.join('\n')}`)), timeoutMs);
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
  const { url, internalUrl } = await ready;
  return {
    url,
    internalUrl,
    child,
    logs,
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exited;
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
