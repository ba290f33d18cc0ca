/**
 * What the browser tests stand on: a real `berth serve` in its own process on embedded
 * defaults (fresh data directory, PGlite, the in-process DigitalOcean emulator with its
 * SSH server), and Debian's Chromium driven by playwright-core with a fresh profile.
 * Every console error and uncaught exception in a page is collected, so a test can fail
 * on any of them.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

export const run = promisify(execFile);
export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface BerthProcess {
  url: string;
  dataDir: string;
  /** Everything the process printed, for a failing test's message. */
  output(): string;
  /** The exit code once the process has ended, else null. */
  exitCode(): number | null;
  stop(): Promise<void>;
}

/** Spawns `node bin/berth.js serve` and resolves once it says where it serves. */
export async function spawnBerth(env: Record<string, string> = {}): Promise<BerthProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-web-e2e-'));
  // Only what berth needs from the environment: no database, Redis or DigitalOcean
  // settings leak in from the machine, so this is berth on its embedded defaults.
  const base = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !/^(BERTH_|DATABASE_URL|REDIS_URL|DIGITALOCEAN_|PORT$|HOST$|INTERNAL_)/.test(k),
    ),
  );
  const child = spawn(process.execPath, ['bin/berth.js', 'serve'], {
    cwd: REPO,
    env: {
      ...base,
      PORT: '0',
      HOST: '127.0.0.1',
      BERTH_DATA_DIR: dataDir,
      BERTH_LOG_LEVEL: 'info',
      BERTH_EMULATOR_PORT: '0',
      BERTH_EMULATOR_SSH_PORT: '0',
      BERTH_EMULATOR_ACTIVE_AFTER_MS: '500',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`berth did not start in time:\n${output}`)), 45_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      for (const line of output.split('\n')) {
        if (!line.includes('berth is serving')) continue;
        try {
          const entry = JSON.parse(line) as { url?: string };
          if (entry.url) {
            clearTimeout(timer);
            resolve(entry.url);
          }
        } catch {
          // A line still being written; the next chunk completes it.
        }
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`berth exited with ${code} before serving:\n${output}`));
    });
  });
  return {
    url,
    dataDir,
    output: () => output,
    exitCode: () => child.exitCode ?? (child.signalCode ? -1 : null),
    stop: () => stopProcess(child).finally(() => rmSync(dataDir, { recursive: true, force: true })),
  };
}

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Console errors and uncaught exceptions seen in any page so far. */
  problems: string[];
  close(): Promise<void>;
}

/** Debian's Chromium, headless, with a fresh profile, at desktop size. */
export async function launchBrowser(): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'berth-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-quic',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 800 },
    acceptDownloads: true,
    colorScheme: 'light',
  });
  const problems: string[] = [];
  const watch = (page: Page) => {
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()} (${message.location().url})`);
    });
    page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
  };
  context.pages().forEach(watch);
  context.on('page', watch);
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    problems,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };
export const SCREENSHOTS = join(REPO, 'test-output', 'screenshots');

/** Screenshots of the page as it is, at desktop and at phone width. */
export async function screenshots(page: Page, name: string): Promise<void> {
  await page.setViewportSize(DESKTOP);
  await page.screenshot({ path: join(SCREENSHOTS, `${name}-desktop.png`), fullPage: true });
  await page.setViewportSize(PHONE);
  await page.screenshot({ path: join(SCREENSHOTS, `${name}-phone.png`), fullPage: true });
  await page.setViewportSize(DESKTOP);
}
