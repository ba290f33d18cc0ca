/**
 * A faithful local DigitalOcean for development and tests, since berth cannot reach
 * the real one from here. It serves the parts of API v2 berth uses (SSH keys,
 * droplets, droplet actions, actions) with DigitalOcean's shapes, errors, rate limits
 * and timing; makes each active droplet reachable by real SSH on its own loopback
 * address; can be told to misbehave (latency, errors, hangs, dropped connections); and
 * can check its own traffic against DigitalOcean's OpenAPI description. State lives
 * only in the emulator object. See README.md beside this file.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import type { SpecValidator } from '../spec/validator.ts';
import { adminRoutes, createAdmin, type EmulatorAdmin } from './admin.ts';
import { type ConformanceViolation, conformanceMiddleware } from './conformance.ts';
import { FaultInjector, type FaultRuleInput } from './faults.ts';
import { detectHostCapability, type HostCapability } from './host/capability.ts';
import { createHostRuntime } from './host/runtime.ts';
import { apiError, type EmulatorEnv, MESSAGES, notFound } from './http.ts';
import { Lifecycle } from './lifecycle.ts';
import { DroppedConnectionError, pipeline } from './pipeline.ts';
import { DEFAULT_RATE_LIMITS, RateLimiter, type RateLimits } from './ratelimit.ts';
import { actionRoutes, dropletActionRoutes } from './routes/actions.ts';
import { dropletRoutes } from './routes/droplets.ts';
import { keyRoutes } from './routes/keys.ts';
import { createSshHost, disabledSshHost, type SshHost } from './ssh/host.ts';
import { EmulatorState } from './state.ts';

export type { EmulatorAdmin, EmulatorSnapshot } from './admin.ts';
export type { ConformanceViolation } from './conformance.ts';
export { ENDPOINTS } from './endpoints.ts';
export type { FaultKind, FaultRule, FaultRuleInput } from './faults.ts';
export type { DropletConsole } from './host/files.ts';
export { HOST_NETWORK } from './host/network.ts';
export { DroppedConnectionError } from './pipeline.ts';
export type { RateLimits } from './ratelimit.ts';
export type { EmulatorState } from './state.ts';

export const DEFAULT_ACTIVE_AFTER_MS = 3000;
export const DEFAULT_SSH_PORT = 2222;

export interface EmulatorOptions {
  /** The one bearer token the emulator accepts, for the API and for `/_emulator`. */
  token: string;
  /** How long a droplet stays `new` (and an action in progress). Default: BERTH_EMULATOR_ACTIVE_AFTER_MS, else 3000. */
  activeAfterMs?: number;
  /** Current time in ms; tests pass a controllable one. Default Date.now. */
  clock?: () => number;
  /** Decides rate-based faults; default Math.random. */
  random?: () => number;
  /** Shrink DigitalOcean's limits (5000/hour, 250/minute, 10 key lists/minute) for tests. */
  rateLimits?: Partial<RateLimits>;
  /**
   * What a droplet is. `real`: an isolated Linux host (namespaces, overlayfs) booted by
   * cloud-init with Debian's sshd on port 22 of its own address; needs root on Linux and
   * fails to create otherwise. `light`: an ssh2 server on a loopback address, running
   * commands unsandboxed as this user. `auto`: real where the machine allows, else light.
   * Default `light`.
   */
  hosts?: 'real' | 'light' | 'auto';
  /** Real hosts only: where droplets' files live (default `<tmpdir>/berth-do-hosts`). */
  hostStateRoot?: string;
  /** The port every light droplet's SSH server listens on. Default 2222; 0 picks a free one at listen(). */
  sshPort?: number;
  ssh?: {
    /** False runs no SSH servers at all (droplets still become active). Default true. */
    enabled?: boolean;
    /** First loopback address handed to a droplet. Default 127.0.0.2. */
    firstAddress?: string;
    /** How many addresses to cycle through. Default 253 (127.0.0.2 to 127.0.0.254). */
    addressCount?: number;
    /** Host private key shared by every droplet; one ed25519 key is generated when absent. */
    hostKey?: string;
  };
  /** Fault rules in force from the start. */
  faults?: FaultRuleInput[];
  /** Added latency in ms per endpoint name (`*` for all) from the start. */
  latencyMs?: Record<string, number>;
  /** When set, every /v2 request and answer is checked against the OpenAPI description. */
  conformance?: SpecValidator;
  /** How often the lifecycle looks at the clock between requests. Default 50 ms. */
  tickMs?: number;
  /** Where problems that have no caller to go to (an SSH server that failed) are reported. */
  onError?: (message: string) => void;
  /** Told once which kind of droplet this emulator runs and why. */
  onNotice?: (line: string) => void;
  /** Environment read for defaults; default process.env. */
  env?: Record<string, string | undefined>;
}

export interface ListeningEmulator {
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface Emulator {
  app: Hono<EmulatorEnv>;
  state: EmulatorState;
  admin: EmulatorAdmin;
  /** The SSH port droplets listen on (berth reports it as `ssh_port`); 0 until resolved when configured as 0. */
  readonly sshPort: number;
  /** Which kind of droplet this emulator runs (see `hosts`), and why. */
  readonly hosts: { kind: 'real' | 'light'; reason: string };
  /** Serves the emulator over HTTP; resolves once listening (and once the SSH port is known). */
  listen(port: number, host?: string): Promise<ListeningEmulator>;
  /** Lets droplets and actions whose time has come move on now, instead of at the next tick. */
  advance(): Promise<void>;
  /** Conformance departures recorded so far (always empty without the `conformance` option). */
  violations(): ConformanceViolation[];
  /** Stops every HTTP listener, SSH server, timer and held request. */
  close(): Promise<void>;
}

export function createEmulator(options: EmulatorOptions): Emulator {
  if (!options.token) throw new Error('createEmulator needs a token');
  const env = options.env ?? process.env;
  const clock = options.clock ?? Date.now;
  const activeAfterMs =
    options.activeAfterMs ?? envInt(env.BERTH_EMULATOR_ACTIVE_AFTER_MS) ?? DEFAULT_ACTIVE_AFTER_MS;
  const limits: RateLimits = { ...DEFAULT_RATE_LIMITS, ...options.rateLimits };
  const firstAddress = options.ssh?.firstAddress ?? '127.0.0.2';
  const state = new EmulatorState({ first: firstAddress, count: options.ssh?.addressCount ?? 253 });
  const sshPortOption = options.sshPort ?? DEFAULT_SSH_PORT;
  const hosts = chooseHosts(options.hosts ?? 'light', options.ssh?.enabled !== false, detectHostCapability);
  options.onNotice?.(
    hosts.kind === 'real'
      ? `DigitalOcean emulator: droplets are real hosts (${hosts.reason})`
      : `DigitalOcean emulator: droplets are light ssh2 servers on loopback (${hosts.reason})`,
  );
  let ssh: SshHost;
  if (options.ssh?.enabled === false) ssh = disabledSshHost(sshPortOption);
  else if (hosts.kind === 'real')
    ssh = createHostRuntime({
      stateRoot: options.hostStateRoot,
      onError: options.onError,
      onNotice: options.onNotice,
    });
  else
    ssh = createSshHost({
      port: sshPortOption,
      probeAddress: firstAddress,
      hostKey: options.ssh?.hostKey,
      onError: options.onError,
    });
  const faults = new FaultInjector(options.random ?? Math.random);
  for (const rule of options.faults ?? []) faults.add(rule);
  for (const [endpoint, ms] of Object.entries(options.latencyMs ?? {})) faults.setLatency(endpoint, ms);
  const limiter = new RateLimiter(limits);
  const lifecycle = new Lifecycle({ state, clock, activeAfterMs, ssh, onError: options.onError });
  const held = new Set<() => void>();
  const recorded: ConformanceViolation[] = [];
  const admin = createAdmin({
    state,
    faults,
    limiter,
    sshPort: () => ssh.port(),
    hosts: hosts.kind,
    console: (id) => ssh.console?.(id),
    stopAllSsh: async () => {
      await Promise.all([...state.droplets.keys()].map((id) => ssh.remove(id)));
    },
  });

  const app = new Hono<EmulatorEnv>();
  app.use('*', async (c, next) => {
    c.set('requestId', randomUUID());
    await next();
  });
  app.route('/_emulator', adminRoutes(admin, options.token));
  if (options.conformance) {
    app.use(
      '/v2/*',
      conformanceMiddleware(options.conformance, (v) => recorded.push(v)),
    );
  }
  app.use('/v2/*', pipeline({ token: options.token, clock, faults, limiter, limits, lifecycle, held }));
  app.route('/v2/account/keys', keyRoutes(state));
  app.route('/v2/droplets/:id/actions', dropletActionRoutes(state, lifecycle));
  app.route('/v2/droplets', dropletRoutes({ state, lifecycle, clock }));
  app.route('/v2/actions', actionRoutes(state));
  app.notFound((c) => notFound(c));
  app.onError((err, c) => {
    // A dropped connection must reach an in-process caller as a failed request.
    if (err instanceof DroppedConnectionError) throw err;
    options.onError?.(`emulator: ${err.stack ?? err.message}`);
    return apiError(c, 500, 'server_error', MESSAGES.serverError);
  });

  const tick = setInterval(() => {
    lifecycle.advance().catch((err) => options.onError?.(`emulator lifecycle: ${String(err)}`));
  }, options.tickMs ?? 50);
  tick.unref();

  const servers = new Set<ListeningEmulator>();

  return {
    app,
    state,
    admin,
    get sshPort() {
      return ssh.port();
    },
    hosts,
    async listen(port, host = '127.0.0.1') {
      await ssh.ready();
      const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
        const s = serve({ fetch: app.fetch, port, hostname: host }, () => resolve(s));
        s.once('error', reject);
      });
      const bound = (server.address() as AddressInfo).port;
      const urlHost = host.includes(':') ? `[${host}]` : host;
      const listening: ListeningEmulator = {
        url: `http://${urlHost}:${bound}`,
        port: bound,
        close: () =>
          new Promise<void>((resolve) => {
            servers.delete(listening);
            server.close(() => resolve());
            // Connections held open by keep-alive or by timeout faults would keep close() waiting.
            (server as { closeAllConnections?: () => void }).closeAllConnections?.();
          }),
      };
      servers.add(listening);
      return listening;
    },
    advance: () => lifecycle.advance(),
    violations: () => [...recorded],
    async close() {
      clearInterval(tick);
      for (const release of [...held]) release();
      await Promise.all([...servers].map((s) => s.close()));
      await ssh.close();
    },
  };
}

/** Reads BERTH_EMULATOR_HOSTS (`real`, `light` or `auto`); undefined when unset. */
export function parseHostsSetting(raw: string | undefined): 'real' | 'light' | 'auto' | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const value = raw.trim();
  if (value === 'real' || value === 'light' || value === 'auto') return value;
  throw new Error(`BERTH_EMULATOR_HOSTS must be real, light or auto, got "${raw}"`);
}

/**
 * Settles `hosts`: `real` is refused where the machine cannot run real hosts (so a test
 * that asks for them fails instead of silently testing less), `auto` falls back to light.
 */
export function chooseHosts(
  wanted: 'real' | 'light' | 'auto',
  sshEnabled: boolean,
  detect: () => HostCapability,
): { kind: 'real' | 'light'; reason: string } {
  if (!sshEnabled) return { kind: 'light', reason: 'SSH disabled' };
  if (wanted === 'light') return { kind: 'light', reason: 'asked for light droplets' };
  const capability = detect();
  if (capability.ok)
    return {
      kind: 'real',
      reason: wanted === 'real' ? 'asked for real hosts' : 'root on Linux with namespaces',
    };
  if (wanted === 'real') throw new Error(`real-host droplets are not available here: ${capability.reason}`);
  return { kind: 'light', reason: `real hosts unavailable: ${capability.reason}` };
}

function envInt(raw: string | undefined): number | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`BERTH_EMULATOR_ACTIVE_AFTER_MS must be a whole number of ms, got "${raw}"`);
  return n;
}
