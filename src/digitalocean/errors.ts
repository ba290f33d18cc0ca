/**
 * Typed errors for failures of the DigitalOcean API, as the client reports them. Each is a
 * BerthError with one of the domain's stable codes, so the HTTP layer maps them like any
 * other error; the extra fields (status, retry delay, DigitalOcean's own message) are for
 * callers that act on them. Messages never carry the API token: the client builds them
 * from the method, the path and DigitalOcean's error body only.
 */
import { BerthError } from '../domain/errors.ts';

/** What the failed call was, for logs and messages; never headers or the token. */
export interface DigitalOceanCallInfo {
  method: string;
  path: string;
  status?: number;
  requestId?: string;
}

function describe(call: DigitalOceanCallInfo): string {
  return `${call.method} ${call.path}`;
}

export class DigitalOceanNotFoundError extends BerthError {
  constructor(call: DigitalOceanCallInfo) {
    super('not_found', `DigitalOcean has no such resource (${describe(call)})`, { ...call });
  }
}

/** 401 (bad or revoked token) or 403 (token without the scope the call needs). */
export class DigitalOceanUnauthorizedError extends BerthError {
  constructor(call: DigitalOceanCallInfo, doMessage: string) {
    super('unauthorized', `DigitalOcean refused the API token for ${describe(call)}: ${doMessage}`, {
      ...call,
    });
  }
}

/**
 * The per-token rate limit stopped the call: DigitalOcean answered 429 more often than the
 * client retries (`source: 'server'`), or berth's own budget would not have admitted the
 * request within the time the client may wait (`source: 'budget'`, nothing was sent).
 */
export class DigitalOceanRateLimitedError extends BerthError {
  readonly retryAfterMs: number;
  readonly source: 'server' | 'budget';

  constructor(call: DigitalOceanCallInfo, retryAfterMs: number, source: 'server' | 'budget' = 'server') {
    const where =
      source === 'server' ? 'DigitalOcean rate limit reached' : "berth's DigitalOcean rate budget is spent";
    super('rate_limited', `${where} (${describe(call)}); retry in ${Math.ceil(retryAfterMs / 1000)} s`, {
      ...call,
      retryAfterMs,
      source,
    });
    this.retryAfterMs = retryAfterMs;
    this.source = source;
  }
}

/** A 422 (or other request DigitalOcean rejected as invalid), carrying its explanation. */
export class DigitalOceanUnprocessableError extends BerthError {
  readonly doMessage: string;
  readonly status: number;

  constructor(call: DigitalOceanCallInfo, doMessage: string) {
    super('upstream_unprocessable', `DigitalOcean rejected ${describe(call)}: ${doMessage}`, { ...call });
    this.doMessage = doMessage;
    this.status = call.status ?? 422;
  }
}

/**
 * Why DigitalOcean could not be used: it answered 5xx, the connection failed or timed out,
 * or the circuit breaker is open after repeated such failures and the call failed fast.
 */
export type UnavailableReason = 'server_error' | 'network' | 'timeout' | 'circuit_open' | 'bad_response';

export class DigitalOceanUnavailableError extends BerthError {
  readonly reason: UnavailableReason;

  constructor(call: DigitalOceanCallInfo, reason: UnavailableReason, detail: string, options?: ErrorOptions) {
    super(
      'unavailable',
      `DigitalOcean is unavailable (${describe(call)}): ${detail}`,
      { ...call, reason },
      options,
    );
    this.reason = reason;
  }

  /** Whether another attempt may succeed: not when the breaker itself refused the call. */
  get transient(): boolean {
    return this.reason !== 'circuit_open' && this.reason !== 'bad_response';
  }
}
