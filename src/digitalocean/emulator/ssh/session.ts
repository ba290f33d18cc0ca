/**
 * What happens after someone logs into an emulated droplet: `exec` runs the command
 * with `/bin/sh -c`, and `shell` starts `/bin/sh -i` (no pseudo-terminal; a pty
 * request is accepted and ignored). Commands run AS THE OS USER RUNNING THE EMULATOR,
 * on this machine, with no isolation whatsoever: the login name is `root` only because
 * that is what DigitalOcean droplets use. This is a test emulator, never a sandbox.
 * Output streams back as it is produced and the exit status is reported.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { homedir } from 'node:os';
import type { ServerChannel, Session } from 'ssh2';

export interface SessionContext {
  dropletId: number;
  dropletName: string;
  /** Children still running, so stopping the droplet can end them. */
  children: Set<ChildProcess>;
}

export function handleSession(session: Session, context: SessionContext): void {
  const env: Record<string, string> = {};
  session.on('pty', (accept) => accept?.());
  session.on('window-change', (accept) => accept?.());
  session.on('env', (accept, _reject, info) => {
    env[info.key] = info.val;
    accept?.();
  });
  session.on('exec', (accept, _reject, info) => {
    run(accept(), ['-c', info.command], env, context);
  });
  session.on('shell', (accept) => {
    run(accept(), ['-i'], env, context);
  });
  session.on('subsystem', (_accept, reject) => reject?.());
}

function run(
  channel: ServerChannel,
  args: string[],
  clientEnv: Record<string, string>,
  context: SessionContext,
): void {
  // A small, explicit environment: the emulator's own variables (which may include
  // secrets such as its API token) must not leak into the "droplet".
  const child = spawn('/bin/sh', args, {
    cwd: homedir(),
    env: {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      HOME: homedir(),
      SHELL: '/bin/sh',
      LANG: clientEnv.LANG ?? 'C.UTF-8',
      BERTH_EMULATOR_DROPLET_ID: String(context.dropletId),
      BERTH_EMULATOR_DROPLET_NAME: context.dropletName,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  context.children.add(child);
  child.stdout.pipe(channel, { end: false });
  child.stderr.pipe(channel.stderr, { end: false });
  channel.pipe(child.stdin);
  // The client may hang up first; stdin then closes and a write would throw.
  child.stdin.on('error', () => {});
  channel.on('close', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGHUP');
  });
  child.on('error', (err) => {
    channel.stderr.write(`emulator: could not start /bin/sh: ${err.message}\n`);
    channel.exit(127);
    channel.end();
  });
  child.on('close', (code, signal) => {
    context.children.delete(child);
    if (code !== null) channel.exit(code);
    else channel.exit(signal?.replace(/^SIG/, '') ?? 'KILL', false, '');
    channel.end();
  });
}
