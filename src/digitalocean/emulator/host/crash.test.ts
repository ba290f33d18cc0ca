/**
 * An emulator killed with SIGKILL runs no cleanup code, yet its droplets must not live
 * on: their init dies with the emulator's process (pdeathsig through unshare's
 * --kill-child), and the next emulator to start removes the namespaces and files the
 * dead one left. One real-host boot, in a child process.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { sshKeygen } from '../../../../test/support/do-spec.ts';
import { describeRealHosts, sshRun } from '../../../../test/support/real-hosts.ts';
import { createEmulator } from '../index.ts';
import { namespacePids } from './network.ts';

const dir = mkdtempSync(join(tmpdir(), 'berth-real-crash-'));
const stateRoot = join(dir, 'state');
let child: ChildProcess | undefined;
afterAll(() => {
  child?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const CHILD = new URL('../../../../test/support/emulator-child.ts', import.meta.url).pathname;

describeRealHosts('an emulator killed with SIGKILL', () => {
  it('takes its droplets’ processes with it, and the next emulator removes what it left', async () => {
    const key = sshKeygen(dir, 'key');
    child = spawn(process.execPath, ['--import', 'tsx', CHILD, stateRoot, key.publicKey], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child!.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(out.split('\n')[0]!);
      });
      child!.once('exit', (code) => reject(new Error(`emulator child exited ${code}: ${stderr}`)));
    });
    const booted = JSON.parse(line) as { pid: number; id: number; address: string };
    expect(
      await sshRun({ path: key.privatePath }, { user: 'root', address: booted.address }, 'echo up'),
    ).toMatchObject({ code: 0, stdout: 'up\n' });
    const ours = () =>
      execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
        .split('\n')
        .map((l) => l.split(' ')[0]!)
        .filter((n) => n.startsWith(`berth-do-${booted.pid}-`));
    const [namespace] = ours();
    expect(namespace).toBeDefined();
    expect((await namespacePids(namespace!)).length).toBeGreaterThan(0);
    const leftDirs = () =>
      existsSync(stateRoot) ? readdirSync(stateRoot).filter((d) => d.startsWith(`${booted.pid}-`)) : [];
    expect(leftDirs()).toHaveLength(1);

    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    // Every process of the droplet ends with the emulator that ran it.
    const deadline = Date.now() + 20_000;
    while ((await namespacePids(namespace!)).length > 0) {
      if (Date.now() > deadline)
        throw new Error(`droplet processes outlived their emulator: ${await namespacePids(namespace!)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    // What cannot die with it, its namespace's name and its files, is still there...
    expect(ours()).toEqual([namespace]);
    expect(leftDirs()).toHaveLength(1);

    // ...until the next emulator starts.
    const notices: string[] = [];
    const next = createEmulator({
      token: 't',
      hosts: 'real',
      hostStateRoot: stateRoot,
      onNotice: (l) => notices.push(l),
    });
    const listening = await next.listen(0);
    try {
      expect(ours()).toEqual([]);
      expect(leftDirs()).toEqual([]);
      expect(notices.join('\n')).toContain(`dead emulator ${booted.pid}`);
    } finally {
      await listening.close();
      await next.close();
    }
  }, 200_000);
});
