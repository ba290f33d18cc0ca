/**
 * The resilient HTTP layer under the DigitalOcean client: one request, sent through
 * cockatiel policies (retry outside, circuit breaker, then a per-attempt timeout), each
 * attempt first drawing from the rate budget. Responses become typed errors here, so the
 * client above deals in DigitalOcean resources only. Only failures that another attempt
 * may cure are retried (429, 5xx, timeouts, dropped connections); other 4xx answers are
 * final. Calls that must not be repeated blindly (creates, droplet actions) choose a
 * narrower retry mode. The token is read per request and only ever put in the
 * Authorization header: it is never logged, and error text is scrubbed of it. An optional
 * observer hears of each request sent or declined, for metrics.
 */
import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  DelegateBackoff,
  handleWhen,
  type IRetryBackoffContext,
  type RetryPolicy,
  retry,
  TaskCancelledError,
  TimeoutStrategy,
  timeout,
} from 'cockatiel';
import {
  type DigitalOceanCallInfo,
  DigitalOceanRateLimitedError,
  DigitalOceanUnavailableError,
} from '../errors.ts';
import { errorForAnswer } from './answer.ts';
import { exponentialDelay, parseRateHeaders, type RetryOptions, rateLimitedDelay } from './backoff.ts';
import type { Clock, Priority, RateBudget } from './rate-budget.ts';
import { scrub, type TokenProvider } from './token.ts';

/** The subset of pino's logger the client uses; a pino logger fits as it is. */
export interface ClientLogger {
  debug(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export const silentLogger: ClientLogger = { debug: () => undefined, warn: () => undefined };

/**
 * The logger with `requestId` on every line, so that an on-call engineer following one
 * request finds its DigitalOcean calls, retries and adoptions too. The same logger when
 * there is no id (background work without one).
 */
export function loggerForRequest(logger: ClientLogger, requestId: string | undefined): ClientLogger {
  if (requestId === undefined) return logger;
  return {
    debug: (fields, message) => logger.debug({ ...fields, requestId }, message),
    warn: (fields, message) => logger.warn({ ...fields, requestId }, message),
  };
}

export interface BreakerOptions {
  /** Consecutive upstream failures (5xx, timeouts, dropped connections) that open it. */
  consecutiveFailures: number;
  /** How long it stays open before letting one trial request through. */
  halfOpenAfterMs: number;
}

export type BreakerState = 'closed' | 'open' | 'half-open';

/** One request sent to DigitalOcean and what came of it; `status` is the HTTP status or the failure. */
export interface CallObservation {
  method: RequestSpec['method'];
  path: string;
  status: number | 'network' | 'timeout';
  seconds: number;
}

/**
 * Told about every request the transport sends and every one it declines to send (the
 * circuit is open, or the rate budget had no room in time), so that metrics can count
 * them without the transport knowing how they are counted.
 */
export interface TransportObserver {
  call(observation: CallObservation): void;
  refused(refusal: { method: RequestSpec['method']; path: string; reason: 'circuit_open' | 'budget' }): void;
}

/**
 * `transient`: retry 429, 5xx, timeouts and network errors (safe for reads, deletes and
 * creates DigitalOcean deduplicates). `rate-limit-only`: retry only 429, which DigitalOcean
 * sends before doing anything, for requests that must not run twice. `none`: the caller
 * runs its own recovery (droplet create).
 */
export type RetryMode = 'transient' | 'rate-limit-only' | 'none';

export interface RequestSpec {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  query?: Record<string, string | number>;
  body?: unknown;
  priority: Priority;
  retry: RetryMode;
  signal?: AbortSignal;
  /** The berth request or job this call serves, put on every log line the call writes. */
  requestId?: string;
}

export interface TransportOptions {
  baseUrl: string;
  token: TokenProvider;
  fetch: typeof fetch;
  rateBudget: RateBudget;
  logger: ClientLogger;
  timeoutMs: number;
  retry: RetryOptions;
  breaker: BreakerOptions;
  clock: Clock;
  random: () => number;
  /** Longest a request waits for the rate budget before failing with a rate_limited error. */
  maxBudgetWaitMs: number;
  observer?: TransportObserver;
}

function isTransient(error: Error): boolean {
  return (
    (error instanceof DigitalOceanUnavailableError && error.transient) ||
    (error instanceof DigitalOceanRateLimitedError && error.source === 'server')
  );
}

function isRateLimited(error: Error): boolean {
  return error instanceof DigitalOceanRateLimitedError && error.source === 'server';
}

export class Transport {
  private readonly options: TransportOptions;
  private readonly breaker;
  private readonly attemptTimeout;
  private readonly retries: Record<RetryMode, RetryPolicy>;
  /** Which call each failure came from, for the retry line (see the constructor). */
  private readonly failedCalls = new WeakMap<Error, RequestSpec>();
  private readonly baseUrl: string;

  constructor(options: TransportOptions) {
    this.options = options;
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.breaker = circuitBreaker(
      handleWhen((e) => e instanceof DigitalOceanUnavailableError && e.transient),
      {
        halfOpenAfter: options.breaker.halfOpenAfterMs,
        breaker: new ConsecutiveBreaker(options.breaker.consecutiveFailures),
      },
    );
    this.attemptTimeout = timeout(options.timeoutMs, TimeoutStrategy.Aggressive);
    const backoff = new DelegateBackoff<IRetryBackoffContext<unknown>>((context) => {
      const error = 'error' in context.result ? context.result.error : undefined;
      if (error instanceof DigitalOceanRateLimitedError) return error.retryAfterMs;
      return exponentialDelay(
        context.attempt,
        options.retry.baseDelayMs,
        options.retry.maxDelayMs,
        options.random,
      );
    });
    // A policy is shared by every call, so its retry event knows the failure but not the
    // call: `request` files each failure under its call, and the line, written before the
    // wait with the wait it will be, names the call and the request it serves.
    const make = (filter: (e: Error) => boolean, maxAttempts: number) => {
      const policy = retry(handleWhen(filter), { maxAttempts, backoff });
      policy.onRetry((event) => {
        const error = 'error' in event ? event.error : undefined;
        const spec = error ? this.failedCalls.get(error) : undefined;
        loggerForRequest(options.logger, spec?.requestId).warn(
          {
            ...(spec ? { method: spec.method, path: spec.path } : {}),
            attempt: event.attempt,
            delayMs: event.delay,
            error: error?.message ?? 'unexpected result',
          },
          'retrying DigitalOcean call',
        );
      });
      return policy;
    };
    this.retries = {
      transient: make(isTransient, options.retry.maxRetries),
      'rate-limit-only': make(isRateLimited, options.retry.maxRetries),
      none: make(() => false, 0),
    };
  }

  breakerState(): BreakerState {
    switch (this.breaker.state) {
      case CircuitState.Closed:
        return 'closed';
      case CircuitState.HalfOpen:
        return 'half-open';
      default:
        return 'open';
    }
  }

  onBreakerStateChange(listener: (state: BreakerState) => void): { dispose(): void } {
    return this.breaker.onStateChange(() => listener(this.breakerState()));
  }

  /** Sends one request with the spec's retry mode; resolves to the parsed JSON body, if any. */
  async request<T>(spec: RequestSpec): Promise<T> {
    const policy = this.retries[spec.retry];
    const result = await policy.execute(async ({ attempt }) => {
      try {
        return await this.attempt(spec, attempt + 1);
      } catch (error) {
        if (error instanceof Error) this.failedCalls.set(error, spec);
        throw error;
      }
    }, spec.signal);
    return result as T;
  }

  private call(spec: RequestSpec, status?: number): DigitalOceanCallInfo {
    return status === undefined
      ? { method: spec.method, path: spec.path }
      : { method: spec.method, path: spec.path, status };
  }

  private async attempt(spec: RequestSpec, attempt: number): Promise<unknown> {
    try {
      return await this.breaker.execute(async () => {
        const token = await this.options.token();
        await this.acquireBudget(spec);
        return await this.sendWithTimeout(spec, token, attempt);
      });
    } catch (error) {
      if (error instanceof BrokenCircuitError) {
        this.options.observer?.refused({ method: spec.method, path: spec.path, reason: 'circuit_open' });
        throw new DigitalOceanUnavailableError(
          this.call(spec),
          'circuit_open',
          'too many recent failures, not calling it for a while',
        );
      }
      throw error;
    }
  }

  private async acquireBudget(spec: RequestSpec): Promise<void> {
    const limit = AbortSignal.timeout(this.options.maxBudgetWaitMs);
    const signal = spec.signal ? AbortSignal.any([spec.signal, limit]) : limit;
    try {
      await this.options.rateBudget.acquire(spec.priority, signal);
    } catch (error) {
      if (limit.aborted && !spec.signal?.aborted) {
        this.options.observer?.refused({ method: spec.method, path: spec.path, reason: 'budget' });
        throw new DigitalOceanRateLimitedError(this.call(spec), this.options.maxBudgetWaitMs, 'budget');
      }
      throw error;
    }
  }

  private async sendWithTimeout(spec: RequestSpec, token: string, attempt: number): Promise<unknown> {
    const started = performance.now();
    try {
      return await this.attemptTimeout.execute(
        ({ signal }) => this.send(spec, token, attempt, signal),
        spec.signal,
      );
    } catch (error) {
      if (spec.signal?.aborted) throw spec.signal.reason;
      if (error instanceof TaskCancelledError) {
        this.observe(spec, 'timeout', started);
        throw new DigitalOceanUnavailableError(
          this.call(spec),
          'timeout',
          `no complete answer within ${this.options.timeoutMs} ms`,
        );
      }
      throw error;
    }
  }

  private observe(spec: RequestSpec, status: CallObservation['status'], started: number): void {
    const seconds = (performance.now() - started) / 1000;
    this.options.observer?.call({ method: spec.method, path: spec.path, status, seconds });
  }

  private url(spec: RequestSpec): string {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(spec.query ?? {})) query.set(key, String(value));
    const search = query.size > 0 ? `?${query}` : '';
    return `${this.baseUrl}${spec.path}${search}`;
  }

  private async send(
    spec: RequestSpec,
    token: string,
    attempt: number,
    signal: AbortSignal,
  ): Promise<unknown> {
    const started = this.options.clock.now();
    const sentAt = performance.now();
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'application/json' };
    if (spec.body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    let text: string;
    try {
      response = await this.options.fetch(this.url(spec), {
        method: spec.method,
        headers,
        body: spec.body === undefined ? undefined : JSON.stringify(spec.body),
        signal,
      });
      text = await response.text();
    } catch (error) {
      if (signal.aborted) throw error;
      this.observe(spec, 'network', sentAt);
      const cause = error as Error & { cause?: { code?: string; message?: string } };
      const detail = cause.cause?.code ?? cause.cause?.message ?? cause.message;
      throw new DigitalOceanUnavailableError(
        this.call(spec),
        'network',
        `connection failed (${scrub(detail, token)})`,
      );
    }
    this.observe(spec, response.status, sentAt);
    const now = this.options.clock.now();
    const observation = parseRateHeaders(response.headers, response.status, now);
    this.options.rateBudget.observe?.(observation);
    loggerForRequest(this.options.logger, spec.requestId).debug(
      { method: spec.method, path: spec.path, status: response.status, attempt, durationMs: now - started },
      'DigitalOcean call',
    );

    let body: unknown;
    if (text.length > 0) {
      try {
        body = JSON.parse(text);
      } catch {
        if (response.ok) {
          throw new DigitalOceanUnavailableError(
            this.call(spec, response.status),
            'bad_response',
            'answer was not JSON',
          );
        }
      }
    }
    if (response.ok) return body;
    throw errorForAnswer({
      call: this.call(spec),
      status: response.status,
      statusText: response.statusText,
      body,
      token,
      retryAfterMs:
        response.status === 429
          ? rateLimitedDelay(observation, attempt, this.options.retry, this.options.random)
          : 0,
    });
  }
}
