/**
 * `berth do-emulator`: runs the local DigitalOcean as a process of its own, for trying
 * berth by hand or pointing other tools at it. `runEmulatorCommand` does the work and
 * returns a handle; `emulatorCommand()` wraps it as a commander command that runs
 * until interrupted. Another part of berth adds the command to the main program.
 */
import { Command, Option } from 'commander';
import { type FaultRuleInput, parseErrorRate, parseLatency } from './faults.ts';
import { createEmulator, DEFAULT_SSH_PORT, type Emulator } from './index.ts';

export interface EmulatorCommandOptions {
  port: number;
  host?: string;
  token: string;
  activeAfterMs?: number;
  sshPort?: number;
  /** False runs the API without SSH servers. */
  ssh?: boolean;
  /** Real-host or light droplets (see createEmulator's `hosts`); default auto. */
  hosts?: 'real' | 'light' | 'auto';
  /** `ms` or `endpoint=ms`, as given to --latency-ms. */
  latencyMs?: string[];
  /** `endpoint=code:rate`, as given to --error-rate. */
  errorRate?: string[];
  log?: (line: string) => void;
  env?: Record<string, string | undefined>;
}

export interface RunningEmulator {
  url: string;
  sshPort: number;
  emulator: Emulator;
  close(): Promise<void>;
}

export async function runEmulatorCommand(opts: EmulatorCommandOptions): Promise<RunningEmulator> {
  const log = opts.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const faults: FaultRuleInput[] = (opts.errorRate ?? []).map(parseErrorRate);
  const latencyMs: Record<string, number> = {};
  for (const spec of opts.latencyMs ?? []) {
    const { endpoint, ms } = parseLatency(spec);
    latencyMs[endpoint] = ms;
  }
  // Which kind of droplet runs, and what was cleaned up, is said after the listening line.
  const notices: string[] = [];
  const emulator = createEmulator({
    token: opts.token,
    activeAfterMs: opts.activeAfterMs,
    sshPort: opts.sshPort,
    ssh: { enabled: opts.ssh !== false },
    hosts: opts.hosts ?? 'auto',
    onNotice: (line) => notices.push(line),
    faults,
    latencyMs,
    env: opts.env,
    onError: (message) => log(`error: ${message}`),
  });
  let listening: Awaited<ReturnType<Emulator['listen']>>;
  try {
    listening = await emulator.listen(opts.port, opts.host ?? '127.0.0.1');
  } catch (err) {
    await emulator.close();
    throw err;
  }
  log(`DigitalOcean emulator listening on ${listening.url} (API under /v2, controls under /_emulator)`);
  for (const line of notices) log(line);
  if (opts.ssh !== false && emulator.hosts.kind === 'real') {
    log('droplets boot with cloud-init and accept SSH on port 22 of their own 198.18.0.0/15 address');
  } else if (opts.ssh !== false) {
    log(`droplets accept SSH as root on 127.0.0.2, 127.0.0.3, ... port ${emulator.sshPort}`);
    log('commands sent over SSH run on this machine as the current user, unsandboxed');
  }
  for (const rule of faults) log(`fault: ${rule.endpoint} answers ${rule.fault} at rate ${rule.rate}`);
  for (const [endpoint, ms] of Object.entries(latencyMs)) log(`latency: ${endpoint} +${ms} ms`);
  return {
    url: listening.url,
    sshPort: emulator.sshPort,
    emulator,
    close: () => emulator.close(),
  };
}

const integer = (name: string) => (raw: string) => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`${name} must be a non-negative whole number, got "${raw}"`);
  return n;
};

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/**
 * The token the emulator accepts: `--token`, else `BERTH_EMULATOR_TOKEN`, else
 * `DIGITALOCEAN_TOKEN`. The last is the variable berth itself reads, so one variable can
 * configure both berth and the emulator it talks to; the emulator's own variable comes
 * first so that it can still differ. An empty value counts as unset, as an empty token
 * would accept nothing. Undefined when none is set.
 */
export function emulatorToken(
  flag: string | undefined,
  env: Record<string, string | undefined>,
): string | undefined {
  for (const candidate of [flag, env.BERTH_EMULATOR_TOKEN, env.DIGITALOCEAN_TOKEN]) {
    if (candidate) return candidate;
  }
  return undefined;
}

/**
 * The `do-emulator` command; it runs until SIGINT or SIGTERM, then closes everything.
 * `env` is where the token's variables are read (process.env unless a test says otherwise).
 */
export function emulatorCommand(env: Record<string, string | undefined> = process.env): Command {
  return new Command('do-emulator')
    .description('a local DigitalOcean for development and tests; state lives only in this process')
    .option('--port <n>', 'HTTP port for the API', integer('--port'), 8787)
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .addOption(
      new Option(
        '--token <token>',
        'the bearer token the emulator accepts (default: $BERTH_EMULATOR_TOKEN, else $DIGITALOCEAN_TOKEN)',
      ),
    )
    .addOption(
      new Option('--active-after-ms <ms>', 'how long droplets stay "new" (default 3000)')
        .env('BERTH_EMULATOR_ACTIVE_AFTER_MS')
        .argParser(integer('--active-after-ms')),
    )
    .option(
      '--ssh-port <n>',
      'port every droplet accepts SSH on (0 = pick one)',
      integer('--ssh-port'),
      DEFAULT_SSH_PORT,
    )
    .option('--no-ssh', 'run no SSH servers (droplets still become active)')
    .addOption(
      new Option('--hosts <kind>', 'droplets: real (isolated hosts, root on Linux), light or auto')
        .choices(['real', 'light', 'auto'])
        .env('BERTH_EMULATOR_HOSTS')
        .default('auto'),
    )
    .option('--latency-ms <spec>', 'added latency: ms, or endpoint=ms (repeatable)', collect)
    .option(
      '--error-rate <spec>',
      'endpoint=code:rate, code 429|500|503|timeout|drop, rate 0..1, endpoint an operationId or * (repeatable)',
      collect,
    )
    .addHelpText(
      'after',
      `
Droplets get their own loopback address (127.0.0.2, 127.0.0.3, ...) as public IPv4 and
accept SSH as root, on --ssh-port, with the keys named at creation. Commands run on this
machine as the user running the emulator, with no sandbox. Faults, latency, counters and
a reset are also available over HTTP under /_emulator (same token).

The token is --token if given, else BERTH_EMULATOR_TOKEN, else DIGITALOCEAN_TOKEN (the
variable berth reads, so one variable can configure both); one of them is required.`,
    )
    .hook('preAction', (command) => {
      // The token is settled before the action runs (a hook, not the action, so that what
      // the command parsed, token included, is what opts() shows), and its absence is a
      // usage error like any other missing option.
      const flag = command.getOptionValue('token') as string | undefined;
      const token = emulatorToken(flag, env);
      if (token === undefined) {
        command.error('error: no token: pass --token, or set BERTH_EMULATOR_TOKEN or DIGITALOCEAN_TOKEN');
      }
      if (token !== flag) command.setOptionValueWithSource('token', token, 'env');
    })
    .action(async (opts: EmulatorCommandOptions) => {
      const running = await runEmulatorCommand(opts);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await running.close();
    });
}
