/**
 * The emulator's control panel, for tests and for people poking at it by hand: fault
 * rules, added latency, per-endpoint call counters, a reset, and a look at the state.
 * It is offered twice, as methods (`emulator.admin`) and over HTTP under `/_emulator`
 * (outside `/v2`, so it never collides with DigitalOcean's API, is never rate limited,
 * counted or faulted), protected by the same bearer token as the API.
 */
import { Hono } from 'hono';
import { ENDPOINTS } from './endpoints.ts';
import {
  type FaultInjector,
  type FaultKind,
  type FaultPhase,
  type FaultRule,
  type FaultRuleInput,
  parseFaultRule,
} from './faults.ts';
import type { DropletConsole } from './host/files.ts';
import { apiError, type EmulatorEnv, MESSAGES, noContent, readJsonObject } from './http.ts';
import type { RateLimiter } from './ratelimit.ts';
import type { EmulatorState } from './state.ts';

export interface EmulatorSnapshot {
  ssh_port: number;
  /** `real` (isolated hosts with cloud-init and sshd) or `light` (ssh2 servers). */
  hosts: 'real' | 'light';
  droplets: Array<{ id: number; name: string; status: string; address: string; ssh_error?: string }>;
  ssh_keys: Array<{ id: number; name: string; fingerprint: string }>;
}

export interface EmulatorAdmin {
  /** Adds any fault rule; see FaultRuleInput. */
  addFault(rule: FaultRuleInput): FaultRule;
  /** Fails the next `count` calls to `endpoint` with `fault`, before they take effect. */
  failNext(endpoint: string, count: number, fault: FaultKind): FaultRule;
  /** Lets the next `count` calls to `endpoint` take effect, then fails their answers (the droplet exists). */
  acceptThenFail(endpoint: string, fault: FaultKind, count?: number): FaultRule;
  /** Fails a share (0..1) of calls to `endpoint` (or `*`) with `fault`. */
  setErrorRate(endpoint: string, fault: FaultKind, rate: number, phase?: FaultPhase): FaultRule;
  removeFault(id: number): boolean;
  faults(): FaultRule[];
  /** Adds `ms` of latency to `endpoint`, or to every endpoint with `*`; 0 removes it. */
  setLatency(endpoint: string, ms: number): void;
  /** Calls received per endpoint name since the last reset, including refused and faulted ones. */
  counters(): Record<string, number>;
  /** Clears faults, latency, counters and rate-limit windows; with `state: true` also every key and droplet. */
  reset(options?: { state?: boolean }): Promise<void>;
  snapshot(): EmulatorSnapshot;
  /** A real host's boot log (boot script, /dev/console, cloud-init output, sshd); undefined for light droplets. */
  console(dropletId: number): DropletConsole | undefined;
}

export interface AdminDeps {
  state: EmulatorState;
  faults: FaultInjector;
  limiter: RateLimiter;
  sshPort: () => number;
  hosts: 'real' | 'light';
  console: (dropletId: number) => DropletConsole | undefined;
  /** Stops every droplet's SSH server, for a reset that wipes state. */
  stopAllSsh: () => Promise<void>;
}

export function createAdmin(deps: AdminDeps): EmulatorAdmin {
  const { state, faults, limiter } = deps;
  return {
    addFault: (rule) => faults.add(rule),
    failNext: (endpoint, count, fault) => faults.add({ endpoint, fault, times: count, phase: 'before' }),
    acceptThenFail: (endpoint, fault, count = 1) =>
      faults.add({ endpoint, fault, times: count, phase: 'after' }),
    setErrorRate: (endpoint, fault, rate, phase = 'before') => faults.add({ endpoint, fault, rate, phase }),
    removeFault: (id) => faults.remove(id),
    faults: () => faults.list(),
    setLatency: (endpoint, ms) => faults.setLatency(endpoint, ms),
    counters: () => faults.counters(),
    async reset(options) {
      faults.reset();
      limiter.reset();
      if (options?.state) {
        await deps.stopAllSsh();
        state.clear();
      }
    },
    console: (id) => deps.console(id),
    snapshot: () => ({
      ssh_port: deps.sshPort(),
      hosts: deps.hosts,
      droplets: [...state.droplets.values()].map((d) => ({
        id: d.id,
        name: d.name,
        status: d.status,
        address: d.address,
        ...(d.sshError ? { ssh_error: d.sshError } : {}),
      })),
      ssh_keys: [...state.keys.values()].map((k) => ({ id: k.id, name: k.name, fingerprint: k.fingerprint })),
    }),
  };
}

/** The HTTP face of the admin API, mounted at `/_emulator`. */
export function adminRoutes(admin: EmulatorAdmin, token: string): Hono<EmulatorEnv> {
  const app = new Hono<EmulatorEnv>();
  app.use('*', async (c, next) => {
    if (c.req.header('authorization') !== `Bearer ${token}`) {
      return apiError(c, 401, 'unauthorized', MESSAGES.unauthorized);
    }
    await next();
  });
  app.get('/', (c) =>
    c.json({
      endpoints: ENDPOINTS,
      routes: [
        'GET /_emulator/state',
        'GET /_emulator/counters',
        'GET /_emulator/faults',
        'POST /_emulator/faults {endpoint, fault: 429|500|503|"timeout"|"drop", phase?: "before"|"after", times?, rate?, retryAfterSeconds?, hangMs?}',
        'DELETE /_emulator/faults/:id',
        'DELETE /_emulator/faults',
        'PUT /_emulator/latency {endpoint?: string, ms: number}',
        'POST /_emulator/reset {state?: boolean}',
        'GET /_emulator/droplets/:id/console',
      ],
    }),
  );
  app.get('/state', (c) => c.json(admin.snapshot()));
  app.get('/droplets/:id/console', (c) => {
    const found = admin.console(Number(c.req.param('id')));
    if (!found)
      return apiError(c, 404, 'not_found', 'No console: no such droplet, or it is a light droplet.');
    return c.json({
      boot: found.boot,
      console: found.console,
      cloud_init_output: found.cloudInitOutput,
      sshd: found.sshd,
      cloud_init_result: found.result,
    });
  });
  app.get('/counters', (c) => c.json({ counters: admin.counters() }));
  app.get('/faults', (c) => c.json({ faults: admin.faults() }));
  app.post('/faults', async (c) => {
    const read = await readJsonObject(c);
    if ('response' in read) return read.response;
    const parsed = parseFaultRule(read.body);
    if ('error' in parsed) return apiError(c, 422, 'unprocessable_entity', parsed.error);
    return c.json({ fault: admin.addFault(parsed.rule) }, 201);
  });
  app.delete('/faults/:id', (c) =>
    admin.removeFault(Number(c.req.param('id')))
      ? noContent(c)
      : apiError(c, 404, 'not_found', MESSAGES.notFound),
  );
  app.delete('/faults', (c) => {
    for (const rule of admin.faults()) admin.removeFault(rule.id);
    return noContent(c);
  });
  app.put('/latency', async (c) => {
    const read = await readJsonObject(c);
    if ('response' in read) return read.response;
    const { endpoint = '*', ms } = read.body;
    if (typeof endpoint !== 'string' || typeof ms !== 'number' || !Number.isInteger(ms) || ms < 0) {
      return apiError(c, 422, 'unprocessable_entity', 'Send {endpoint?: string, ms: non-negative integer}.');
    }
    admin.setLatency(endpoint, ms);
    return noContent(c);
  });
  app.post('/reset', async (c) => {
    const read = await readJsonObject(c);
    if ('response' in read) return read.response;
    await admin.reset({ state: read.body.state === true });
    return noContent(c);
  });
  return app;
}
