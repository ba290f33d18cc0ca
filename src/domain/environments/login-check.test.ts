import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildCloudInit } from './cloud-init.ts';
import {
  LOGIN_CHECK_CACHE,
  LOGIN_CHECK_CACHE_DIR,
  LOGIN_CHECK_COMMAND,
  LOGIN_CHECK_CREDENTIAL,
  LOGIN_CHECK_DROP_IN,
  LOGIN_CHECK_FALLBACK_KEYS,
  LOGIN_CHECK_SETTINGS,
  type LoginCheckOptions,
  loginCheckScript,
} from './login-check.ts';

const hasCloudInit = spawnSync('cloud-init', ['--version']).status === 0 || process.env.CI === 'true';
const CREDENTIAL = `bdc_${'x'.repeat(43)}`;
const check = (url = 'https://berth.example.com') => ({
  url,
  credential: CREDENTIAL,
  graceSeconds: 600,
  usedFallbackKeys: false,
});

type File = { path: string; content: string; permissions: string; owner?: string };
const filesOf = (text: string) => (parse(text) as { write_files: File[] }).write_files;

describe('the login check in the user data', () => {
  it('switches the key files off and has sshd ask berth, as an unprivileged user', () => {
    const text = buildCloudInit({ agentUser: 'agent', installDocker: false, loginCheck: check() });
    const files = filesOf(text);
    const dropIn = files.find((f) => f.path === LOGIN_CHECK_DROP_IN)!;
    expect(dropIn.content).toContain('AuthorizedKeysFile none\n');
    expect(dropIn.content).toContain(`AuthorizedKeysCommand ${LOGIN_CHECK_COMMAND} %u\n`);
    expect(dropIn.content).toContain('AuthorizedKeysCommandUser berth-keys\n');
    expect(files.find((f) => f.path === LOGIN_CHECK_CREDENTIAL)).toEqual({
      path: LOGIN_CHECK_CREDENTIAL,
      content: `Authorization: Bearer ${CREDENTIAL}\n`,
      owner: 'berth-keys:berth-keys',
      permissions: '0400',
    });
    expect(files.find((f) => f.path === LOGIN_CHECK_COMMAND)?.permissions).toBe('0755');
    const config = parse(text) as { bootcmd: string[][]; runcmd: string[][] };
    expect(config.bootcmd.flat().join(' ')).toContain('useradd --system');
    expect(config.runcmd.flat().join(' ')).not.toContain(LOGIN_CHECK_FALLBACK_KEYS);
    // The credential is only ever in the file curl reads, never on a command line.
    expect(files.find((f) => f.path === LOGIN_CHECK_COMMAND)?.content).not.toContain(CREDENTIAL);
  });

  it('keeps the fallback keys a deploy used in a file of their own', () => {
    const text = buildCloudInit({
      agentUser: 'agent',
      installDocker: false,
      loginCheck: { ...check(), usedFallbackKeys: true },
    });
    expect((parse(text) as { runcmd: string[][] }).runcmd.flat().join(' ')).toContain(
      LOGIN_CHECK_FALLBACK_KEYS,
    );
  });

  it('has no login check without one, for fixed access', () => {
    const text = buildCloudInit({ agentUser: 'agent', installDocker: false });
    expect(text).not.toContain('AuthorizedKeysCommand');
  });

  it('refuses a URL, credential or grace that could inject anything', () => {
    const build = (loginCheck: LoginCheckOptions | ReturnType<typeof check>) =>
      buildCloudInit({ agentUser: 'agent', installDocker: false, loginCheck });
    expect(() => build(check("https://x.example/'; reboot; '"))).toThrow(TypeError);
    expect(() => build({ ...check(), credential: 'a b' })).toThrow(TypeError);
    expect(() => build({ ...check(), graceSeconds: -1 })).toThrow(TypeError);
  });

  it.runIf(hasCloudInit)('passes cloud-init’s own schema check', () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-login-check-'));
    try {
      const file = join(dir, 'user-data');
      writeFileSync(file, buildCloudInit({ agentUser: 'agent', installDocker: false, loginCheck: check() }));
      expect(execFileSync('cloud-init', ['schema', '--config-file', file], { encoding: 'utf8' })).toMatch(
        /Valid cloud-config/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * The command itself, run by sh against a stand-in for berth, with its paths moved into
 * a scratch directory (the script names absolute paths, which a test cannot own).
 */
describe('the login check command', () => {
  let server: Server;
  let answer: { status: number; body: string } | 'hang' = { status: 200, body: 'ssh-ed25519 AAAA now\n' };
  let dir: string;
  let script: string;
  let seenAuthorization: string | undefined;

  beforeAll(async () => {
    server = createServer((req, res) => {
      seenAuthorization = req.headers.authorization;
      if (answer === 'hang') return;
      res.writeHead(answer.status).end(answer.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    dir = mkdtempSync(join(tmpdir(), 'berth-login-cmd-'));
    mkdirSync(join(dir, 'cache'));
    const moved = (text: string) =>
      text
        .replaceAll(LOGIN_CHECK_SETTINGS, join(dir, 'settings'))
        .replaceAll(LOGIN_CHECK_CREDENTIAL, join(dir, 'credential'))
        .replaceAll(LOGIN_CHECK_FALLBACK_KEYS, join(dir, 'fallback'))
        .replaceAll(LOGIN_CHECK_CACHE, join(dir, 'cache', 'authorized_keys'))
        .replaceAll(LOGIN_CHECK_CACHE_DIR, join(dir, 'cache'));
    const options = { ...check(`http://127.0.0.1:${port}`), logins: ['root', 'agent'] };
    script = join(dir, 'command');
    writeFileSync(script, moved(loginCheckScript(options)), { mode: 0o755 });
    writeFileSync(
      join(dir, 'settings'),
      `BERTH_URL='http://127.0.0.1:${port}'\nBERTH_GRACE_SECONDS=600\nBERTH_TIMEOUT_SECONDS=1\n`,
    );
    writeFileSync(join(dir, 'credential'), `Authorization: Bearer ${CREDENTIAL}\n`);
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  const run = (user: string) =>
    new Promise<{ out: string; seconds: number }>((resolve, reject) => {
      const begun = performance.now();
      execFile('sh', [script, user], { encoding: 'utf8', timeout: 20_000 }, (err, stdout) =>
        err ? reject(err) : resolve({ out: stdout, seconds: (performance.now() - begun) / 1000 }),
      );
    });
  const cache = () => join(dir, 'cache', 'authorized_keys');

  it('prints berth’s answer, sends the credential from its file, and keeps the answer', async () => {
    answer = { status: 200, body: 'ssh-ed25519 AAAA now\n' };
    expect((await run('agent')).out).toBe('ssh-ed25519 AAAA now\n');
    expect(seenAuthorization).toBe(`Bearer ${CREDENTIAL}`);
    expect(readFileSync(cache(), 'utf8')).toBe('ssh-ed25519 AAAA now\n');
  });

  it('prints nothing for a login berth does not answer, without asking', async () => {
    seenAuthorization = undefined;
    expect((await run('postgres')).out).toBe('');
    expect(seenAuthorization).toBeUndefined();
  });

  it('answers from the cache while berth fails, within the grace, and not past it', async () => {
    answer = { status: 503, body: '' };
    expect((await run('root')).out).toBe('ssh-ed25519 AAAA now\n');
    const old = Date.now() / 1000 - 601;
    utimesSync(cache(), old, old);
    expect((await run('root')).out).toBe('');
  });

  it('gives up on a berth that never answers after its timeout, with the cache', async () => {
    writeFileSync(cache(), 'ssh-ed25519 AAAA cached\n');
    answer = 'hang';
    const { out, seconds } = await run('root');
    expect(out).toBe('ssh-ed25519 AAAA cached\n');
    expect(seconds).toBeLessThan(15);
  });

  it('drops the cache when berth refuses the credential', async () => {
    writeFileSync(cache(), 'ssh-ed25519 AAAA cached\n');
    answer = { status: 401, body: '' };
    expect((await run('root')).out).toBe('');
    expect(() => readFileSync(cache())).toThrow(/ENOENT/);
  });

  it('always admits the fallback keys a deploy used', async () => {
    writeFileSync(join(dir, 'fallback'), 'ssh-ed25519 AAAA operator\n');
    answer = { status: 401, body: '' };
    expect((await run('root')).out).toBe('ssh-ed25519 AAAA operator\n');
    rmSync(join(dir, 'fallback'));
  });
});
