/**
 * A real-host droplet's files on the machine: one directory per droplet under the
 * emulator's state directory, holding the upper layer of its root overlay (everything the
 * droplet wrote, including its logs), its `/root` and `/home`, the DMI values its `/sys`
 * shows, and its boot log. The emulator's state directory is named `<pid>-<id>` so a later
 * emulator can tell whether its owner is still alive.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IMAGE_CLOUD_CONFIG } from './boot-script.ts';

export interface DropletFiles {
  dir: string;
  /** The boot script's own output: stages, and cloud-init's standard output and errors. */
  bootLog: string;
  /** What the droplet wrote to /dev/console (cloud-init's key fingerprints, messages). */
  consoleDevice: string;
}

export function prepareDropletFiles(stateDir: string, droplet: { id: number; name: string }): DropletFiles {
  const dir = join(stateDir, String(droplet.id));
  for (const sub of ['upper', 'work', 'merged', 'home', 'sys-lower', 'sys-work', 'sys-upper/class/dmi/id']) {
    mkdirSync(join(dir, sub), { recursive: true });
  }
  mkdirSync(join(dir, 'root'), { recursive: true, mode: 0o700 });
  // What a DigitalOcean droplet's SMBIOS says; cloud-init's datasource checks it.
  const dmi = join(dir, 'sys-upper/class/dmi/id');
  writeFileSync(join(dmi, 'sys_vendor'), 'DigitalOcean\n');
  writeFileSync(join(dmi, 'product_name'), 'Droplet\n');
  writeFileSync(join(dmi, 'product_serial'), `${droplet.id}\n`);
  mkdirSync(join(dir, 'upper/etc/cloud/cloud.cfg.d'), { recursive: true });
  writeFileSync(join(dir, 'upper/etc/cloud/cloud.cfg.d/90-digitalocean.cfg'), IMAGE_CLOUD_CONFIG);
  const files = { dir, bootLog: join(dir, 'boot.log'), consoleDevice: join(dir, 'console.log') };
  writeFileSync(files.bootLog, '', { flag: 'a' });
  writeFileSync(files.consoleDevice, '', { flag: 'a' });
  return files;
}

export interface DropletConsole {
  /** The boot script's output, every boot of the droplet in order. */
  boot: string;
  /** What was written to the droplet's /dev/console. */
  console: string;
  /** /var/log/cloud-init-output.log inside the droplet. */
  cloudInitOutput: string;
  /** /var/log/sshd.log inside the droplet. */
  sshd: string;
  /** cloud-init's /var/lib/cloud/data/result.json, once the final stage has run. */
  result: { datasource?: string; errors: string[] } | null;
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

export function readConsole(files: DropletFiles): DropletConsole {
  const upper = join(files.dir, 'upper');
  let result: DropletConsole['result'] = null;
  const raw = readText(join(upper, 'var/lib/cloud/data/result.json'));
  if (raw) {
    try {
      const v1 = (JSON.parse(raw) as { v1?: { datasource?: string; errors?: unknown[] } }).v1;
      result = { datasource: v1?.datasource, errors: (v1?.errors ?? []).map(String) };
    } catch {
      result = { errors: [`result.json is not JSON: ${raw.slice(0, 200)}`] };
    }
  }
  return {
    boot: readText(files.bootLog),
    console: readText(files.consoleDevice),
    cloudInitOutput: readText(join(upper, 'var/log/cloud-init-output.log')),
    sshd: readText(join(upper, 'var/log/sshd.log')),
    result,
  };
}

/** The console as one block of text for an error report, each part headed. */
export function formatConsole(c: DropletConsole, maxChars = 8000): string {
  const parts = [
    ['boot', c.boot],
    ['/dev/console', c.console],
    ['/var/log/sshd.log', c.sshd],
  ] as const;
  const text = parts
    .filter(([, body]) => body.trim() !== '')
    .map(([name, body]) => `--- ${name}\n${body.trimEnd()}`)
    .join('\n');
  return text.length > maxChars ? `...${text.slice(-maxChars)}` : text;
}
