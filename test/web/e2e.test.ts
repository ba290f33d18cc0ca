/**
 * berth's web UI end to end, in Debian's Chromium against a real `berth serve` on its
 * embedded defaults: sign up, onboarding to ready, the default private key downloaded,
 * an agent created and deployed and followed to `active` without a reload, the `ssh`
 * command the page shows run with the downloaded key, a key generated, a key imported
 * (after berth refused a bad one), a key deleted, the environment torn down, sign out and
 * in again. Screenshots of each screen at desktop and phone widths go to
 * test-output/screenshots/. Any console error or uncaught exception fails the run.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWebIfStale } from '../../web/scripts/build.ts';
import { type BerthProcess, spawnBerth } from '../support/berth-process.ts';
import { type Browser, launchBrowser, run, SCREENSHOTS, screenshots } from './support.ts';

const EMAIL = `ada-${Date.now().toString(36)}@example.test`;
const PASSWORD = 'correct horse battery staple';
const AGENT = 'research-assistant';

/**
 * The console errors a healthy run shows, each one a 4xx that Chromium logs for any
 * resource: berth's 404 for "this agent has no tool environment" (how
 * GET /api/agents/{id}/tool-environment says none), and the 422 this test provokes on
 * purpose by importing a bad key. Nothing else is tolerated.
 */
const resourceError = (status: string, path: string) =>
  new RegExp(
    `^console: Failed to load resource: the server responded with a status of ${status} \\(http://[^)]+${path}\\)$`,
  );
const EXPECTED_CONSOLE_ERRORS = [
  resourceError('404 \\(Not Found\\)', '/api/agents/[0-9a-f-]{36}/tool-environment'),
  resourceError('422 \\(Unprocessable Entity\\)', '/api/ssh-keys/import'),
];

describe('the web UI, in a real browser against berth serve', { timeout: 60_000 }, () => {
  let berth: BerthProcess;
  let browser: Browser;
  let work: string;
  let privateKeyFile = '';

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    work = mkdtempSync(join(tmpdir(), 'berth-web-work-'));
    await buildWebIfStale({ quiet: true });
    // Both are kept even when the other fails to start, so that afterAll stops what did
    // start (a berth left running outlives the test run).
    const [spawned, launched] = await Promise.allSettled([
      spawnBerth({}, { embedded: true }),
      launchBrowser(),
    ]);
    if (spawned.status === 'fulfilled') berth = spawned.value;
    if (launched.status === 'fulfilled') browser = launched.value;
    for (const outcome of [spawned, launched]) if (outcome.status === 'rejected') throw outcome.reason;
  }, 90_000);

  // The steps build on each other: after one fails the rest fail at once, saying so,
  // instead of each waiting out its timeouts; a berth that died says why.
  let failed: string | null = null;
  const step = (name: string, fn: () => Promise<void> | void) =>
    it(name, async () => {
      if (failed) throw new Error(`skipped: the step "${failed}" failed`);
      try {
        await fn();
      } catch (error) {
        failed = name;
        if (berth?.exitCode() !== null) {
          throw new Error(`berth exited (${berth.exitCode()}):\n${berth.output().slice(-4000)}`, {
            cause: error,
          });
        }
        throw error;
      }
    });

  afterAll(async () => {
    await browser?.close();
    await berth?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  step('signs up, and follows onboarding until the default key is ready', async () => {
    const { page } = browser;
    await page.goto(berth.url);
    await page.getByRole('heading', { name: 'Sign in to berth' }).waitFor();
    await screenshots(page, '01-sign-in');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.locator('form').getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { name: 'Agents' }).waitFor();
    await page.getByRole('heading', { name: 'Your SSH key is ready' }).waitFor({ timeout: 30_000 });
    await screenshots(page, '02-onboarding-ready');
  });

  step('downloads the default private key once', async () => {
    const { page } = browser;
    const panel = page.getByRole('region', { name: 'Your SSH key is ready' });
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      panel.getByRole('button', { name: 'Download private key' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe('berth-default-ed25519');
    privateKeyFile = join(work, download.suggestedFilename());
    await download.saveAs(privateKeyFile);
    chmodSync(privateKeyFile, 0o600);
    expect(readFileSync(privateKeyFile, 'utf8')).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
    await panel.getByText('Saved as').waitFor();
    // berth offers it once: the keys page no longer has a download for it.
    await page.getByRole('link', { name: 'SSH keys' }).click();
    const card = page.getByRole('listitem').filter({ has: page.getByRole('heading', { name: 'default' }) });
    await card.getByText('Generated by berth').waitFor();
    expect(await card.getByRole('button', { name: /Download private key/ }).count()).toBe(0);
  });

  step('creates an agent, deploys it and follows it to active without a reload', async () => {
    const { page } = browser;
    await page.getByRole('link', { name: 'Agents' }).click();
    await page.getByLabel('New agent name').fill(AGENT);
    await page.getByRole('button', { name: 'Create agent' }).click();
    const card = page.getByRole('listitem').filter({ has: page.getByRole('heading', { name: AGENT }) });
    await card.getByText('Not deployed').waitFor();

    let navigations = 0;
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) navigations++;
    });
    await card.getByRole('button', { name: `Deploy ${AGENT}` }).click();
    await card.getByText(/Queued|Creating droplet/).waitFor();
    await card.getByText('Active', { exact: true }).waitFor({ timeout: 30_000 });
    expect(navigations).toBe(0);
    await card.getByRole('figure', { name: 'Connect' }).locator('pre').waitFor();
    await screenshots(page, '03-agent-active');
  });

  step('shows an ssh command that logs in with the downloaded key', async () => {
    const { page } = browser;
    const card = page.getByRole('listitem').filter({ has: page.getByRole('heading', { name: AGENT }) });
    const command = (
      (await card.getByRole('figure', { name: 'Connect' }).locator('pre').textContent()) ?? ''
    ).trim();
    // Real-host droplets (root on Linux): `agent@address`, port 22. Light ones: root, a shared port.
    const match = /^ssh -i (\S+)(?: -p (\d+))? (agent|root)@(\d+\.\d+\.\d+\.\d+)$/.exec(command);
    expect(match, command).not.toBeNull();
    const [, keyFile, port = '22', user, host] = match as unknown as [string, string, string, string, string];
    expect(user).toBe(port === '22' ? 'agent' : 'root');
    expect(keyFile.endsWith('/berth-default-ed25519')).toBe(true);
    expect(await card.getByText(host, { exact: true }).count()).toBe(1);
    // The command as shown, with -i pointing where this test saved the download, and
    // options that keep the run non-interactive and independent of ~/.ssh.
    const { stdout } = await run('ssh', [
      ...['-F', '/dev/null', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null'],
      ...[
        '-o',
        'IdentitiesOnly=yes',
        '-o',
        'BatchMode=yes',
        '-o',
        'ConnectTimeout=10',
        '-o',
        'LogLevel=ERROR',
      ],
      ...['-i', privateKeyFile, '-p', port, `${user}@${host}`, 'echo ok'],
    ]);
    expect(stdout.trim()).toBe('ok');
  });

  step('generates a key pair and shows its private key once, with a warning', async () => {
    const { page } = browser;
    await page.getByRole('link', { name: 'SSH keys' }).click();
    await page.getByRole('button', { name: 'Generate key' }).click();
    await page.getByLabel('Key name').fill('laptop');
    await page.getByLabel('Algorithm').selectOption('ecdsa-p256');
    await page.locator('form').getByRole('button', { name: 'Generate key' }).click();
    const reveal = page.getByRole('region', { name: /Save the private key for “laptop”/ });
    await reveal.getByText('This is the only time berth shows this private key.').waitFor();
    expect(await reveal.getByLabel('Private key').inputValue()).toMatch(
      /^-----BEGIN OPENSSH PRIVATE KEY-----/,
    );
    await screenshots(page, '04-key-generated');
    await reveal.getByRole('button', { name: 'I have saved it' }).click();
    expect(await page.getByLabel('Private key').count()).toBe(0);
    const card = page.getByRole('listitem').filter({ has: page.getByRole('heading', { name: 'laptop' }) });
    await card.getByText('ECDSA P-256').waitFor();
  });

  step("imports a public key, after showing berth's refusal of a bad one next to the field", async () => {
    const { page } = browser;
    const keyPath = join(work, 'imported');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ada@laptop', '-f', keyPath]);
    const publicKey = readFileSync(`${keyPath}.pub`, 'utf8').trim();

    await page.getByRole('button', { name: 'Import public key' }).click();
    await page.getByLabel('Key name').fill('work laptop');
    const field = page.getByLabel('Public key', { exact: true });
    await field.fill('ssh-ed25519 not-base64-at-all');
    await page.getByRole('button', { name: 'Import key' }).click();
    await page.locator('textarea[aria-invalid="true"]').waitFor();
    const describedBy = await field.getAttribute('aria-describedby');
    const message = (await page.locator(`[id="${describedBy}"]`).textContent()) ?? '';
    expect(message).toMatch(/key/i);
    await screenshots(page, '05-import-refused');

    await field.fill(publicKey);
    await page.getByRole('button', { name: 'Import key' }).click();
    const card = page
      .getByRole('listitem')
      .filter({ has: page.getByRole('heading', { name: 'work laptop' }) });
    await card.getByText('Imported', { exact: true }).waitFor();
    await card.getByText(/^SHA256:/).waitFor();
    await card.getByText(/^([0-9a-f]{2}:){15}[0-9a-f]{2}$/).waitFor();
    await screenshots(page, '06-keys');
  });

  step('deletes a key after a confirmation that names it', async () => {
    const { page } = browser;
    const card = page
      .getByRole('listitem')
      .filter({ has: page.getByRole('heading', { name: 'work laptop' }) });
    await card.getByRole('button', { name: 'Delete key work laptop' }).click();
    const confirm = card.getByRole('alertdialog');
    await confirm.getByText('Delete the key “work laptop”?').waitFor();
    await confirm.getByRole('button', { name: 'Delete key “work laptop”' }).click();
    await card.waitFor({ state: 'detached' });
    expect(await page.getByRole('heading', { name: 'default' }).count()).toBe(1);
  });

  step('tears the environment down and follows it until nothing is deployed', async () => {
    const { page } = browser;
    await page.getByRole('link', { name: 'Agents' }).click();
    const card = page.getByRole('listitem').filter({ has: page.getByRole('heading', { name: AGENT }) });
    await card.getByRole('button', { name: `Tear down ${AGENT}` }).click();
    await card.getByRole('alertdialog').getByRole('button', { name: 'Tear down' }).click();
    await card.getByText('Not deployed').waitFor({ timeout: 30_000 });
    await card.getByRole('button', { name: `Deploy ${AGENT}` }).waitFor();
  });

  step('keeps the session across a reload, signs out and signs back in', async () => {
    const { page } = browser;
    await page.reload();
    await page.getByRole('heading', { name: 'Agents' }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to berth' }).waitFor();
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.locator('form').getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: AGENT }).waitFor();
  });

  it('logged no console error and threw no exception', () => {
    const unexpected = browser.problems.filter((p) => !EXPECTED_CONSOLE_ERRORS.some((e) => e.test(p)));
    expect(unexpected).toEqual([]);
  });
});
