/**
 * What happens to every `/v2` request before a route sees it, in order: it is counted under
 * its endpoint name, waits out any added latency, meets any fault rule for the
 * `before` phase, passes the rate limits and the bearer-token check, and lets the
 * lifecycle catch up with the clock. After the route answers, `after`-phase faults may
 * replace or drop the answer, and the rate-limit headers and `x-request-id` (the request id
 * that error bodies also carry) are set on whatever is sent.
 */
import type { MiddlewareHandler } from 'hono';
import { endpointFor } from './endpoints.ts';
import type { FaultInjector, FaultRule } from './faults.ts';
import { apiError, type EmulatorContext, type EmulatorEnv, MESSAGES } from './http.ts';
import type { Lifecycle } from './lifecycle.ts';
import type { RateLimiter, RateLimits } from './ratelimit.ts';

/** Thrown for a dropped connection when there is no socket to drop (in-process app.request()). */
export class DroppedConnectionError extends Error {
  constructor() {
    super('emulator fault: connection dropped');
    this.name = 'DroppedConnectionError';
  }
}

export interface PipelineDeps {
  token: string;
  clock: () => number;
  faults: FaultInjector;
  limiter: RateLimiter;
  limits: RateLimits;
  lifecycle: Lifecycle;
  /** Releases for requests being held by timeout faults, so close() can let them go. */
  held: Set<() => void>;
}

export function pipeline(deps: PipelineDeps): MiddlewareHandler<EmulatorEnv> {
  return async (c, next) => {
    const requestId = c.get('requestId');
    const endpoint = endpointFor(c.req.method, c.req.path);
    c.set('endpoint', endpoint);
    deps.faults.count(endpoint);

    const delay = deps.faults.latencyFor(endpoint);
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));

    const before = deps.faults.pick(endpoint, 'before');
    if (before) {
      c.res = await applyFault(c, before, deps);
      c.res.headers.set('x-request-id', requestId);
      return;
    }

    const bearer = /^Bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '')?.[1];
    const decision = deps.limiter.take(bearer ?? '', deps.clock(), endpoint === 'sshKeys_list');
    if (!decision.allowed) {
      c.res = apiError(c, 429, 'too_many_requests', MESSAGES.tooManyRequests);
    } else if (bearer !== deps.token) {
      c.res = apiError(c, 401, 'unauthorized', MESSAGES.unauthorized);
    } else {
      await deps.lifecycle.advance();
      await next();
      const after = deps.faults.pick(endpoint, 'after');
      if (after) c.res = await applyFault(c, after, deps);
    }
    for (const [name, value] of Object.entries(decision.headers)) c.res.headers.set(name, value);
    c.res.headers.set('x-request-id', requestId);
  };
}

async function applyFault(c: EmulatorContext, rule: FaultRule, deps: PipelineDeps): Promise<Response> {
  switch (rule.fault) {
    case 429: {
      const response = apiError(c, 429, 'too_many_requests', MESSAGES.tooManyRequests);
      response.headers.set('ratelimit-limit', String(deps.limits.perHour));
      response.headers.set('ratelimit-remaining', '0');
      response.headers.set('ratelimit-reset', String(Math.ceil(deps.clock() / 1000) + 60));
      if (rule.retryAfterSeconds !== null)
        response.headers.set('retry-after', String(rule.retryAfterSeconds));
      return response;
    }
    case 500:
      return apiError(c, 500, 'server_error', MESSAGES.serverError);
    case 503:
      return apiError(c, 503, 'service_unavailable', MESSAGES.unavailable);
    case 'timeout':
      await hold(c, rule.hangMs, deps.held);
      return drop(c);
    case 'drop':
      return drop(c);
  }
}

/**
 * Destroys the client's connection without an answer. The returned promise never
 * settles, so nothing tries to write to the dead socket; in-process callers, who have
 * no socket, get a rejected request instead.
 */
function drop(c: EmulatorContext): Promise<Response> {
  const socket = c.env?.incoming?.socket;
  if (!socket) return Promise.reject(new DroppedConnectionError());
  socket.destroy();
  return new Promise<Response>(() => {});
}

/** Holds a request until the client gives up, `hangMs` passes, or the emulator closes. */
function hold(c: EmulatorContext, hangMs: number | undefined, held: Set<() => void>): Promise<void> {
  return new Promise<void>((resolve) => {
    const socket = c.env?.incoming?.socket;
    const signal = c.req.raw.signal;
    let timer: NodeJS.Timeout | undefined;
    const release = (): void => {
      if (timer) clearTimeout(timer);
      held.delete(release);
      socket?.off('close', release);
      signal?.removeEventListener('abort', release);
      resolve();
    };
    held.add(release);
    if (hangMs !== undefined) timer = setTimeout(release, hangMs);
    socket?.once('close', release);
    signal?.addEventListener('abort', release);
  });
}
