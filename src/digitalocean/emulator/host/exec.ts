/**
 * Runs the system commands the host runtime is made of (ip, nsenter, unshare), with their
 * standard error kept on failure so a refused step says why.
 */
import { spawn } from 'node:child_process';

export class CommandError extends Error {
  readonly command: string;
  readonly code: number | null;
  readonly stderr: string;

  constructor(command: string, code: number | null, stderr: string) {
    super(`${command} failed (${code ?? 'signal'}): ${stderr.trim() || 'no output'}`);
    this.command = command;
    this.code = code;
    this.stderr = stderr;
  }
}

export function run(
  command: string,
  args: string[],
  options: { input?: string } = {},
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', (err) => reject(new CommandError(`${command} ${args.join(' ')}`, null, err.message)));
    child.on('close', (code) => {
      if (code === 0) resolve({ stdout, stderr });
      else reject(new CommandError(`${command} ${args.join(' ')}`, code, stderr));
    });
    if (child.stdin) {
      // A command that fails before reading its input closes the pipe; its exit status says why.
      child.stdin.on('error', () => {});
      child.stdin.end(options.input);
    }
  });
}
