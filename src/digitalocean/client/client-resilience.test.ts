import { afterEach, describe, expect, it } from 'vitest';
import {
  DigitalOceanNotFoundError,
  DigitalOceanRateLimitedError,
  DigitalOceanUnauthorizedError,
  DigitalOceanUnavailableError,
  DigitalOceanUnprocessableError,
} from '../errors.ts';
import { DigitalOceanClient, type DigitalOceanClientOptions } from './client.ts';
import { InMemoryRateBudget, type RateBudget } from './rate-budget.ts';
import { type Stub, type StubReply, startStub } from './testing.ts';

const TOKEN = 'dop_v1_never-show-this-secret-0123456789';
const KEY = { id: 7, fingerprint: 'aa:bb', name: 'k', public_key: 'ssh-ed25519 AAAA k' };
const ok: StubReply = { status: 200, body: { ssh_key: KEY } };

let stub: Stub | undefined;
afterEach(async () => {
  await stub?.close();
  stub = undefined;
});

interface Harness {
  client: DigitalOceanClient;
  logs: string[];
  acquisitions: string[];
}

function harness(url: string, overrides: Partial<DigitalOceanClientOptions> = {}): Harness {
  const inner = new InMemoryRateBudget({ serverDelayFloorMs: 20, serverDelayCeilingMs: 300 });
  const acquisitions: string[] = [];
  const rateBudget: RateBudget = {
    acquire: (priority, signal) => {
      acquisitions.push(priority);
      return inner.acquire(priority, signal);
    },
    observe: (o) => inner.observe(o),
  };
  const logs: string[] = [];
  const record = (fields: Record<string, unknown>, message: string) =>
    logs.push(`${message} ${JSON.stringify(fields)}`);
  const client = new DigitalOceanClient({
    baseUrl: url,
    token: () => TOKEN,
    rateBudget,
    logger: { debug: record, warn: record },
    timeoutMs: 2000,
    breaker: { consecutiveFailures: 50, halfOpenAfterMs: 1000 },
    random: () => 0.5,
    ...overrides,
    retry: {
      ...{ maxRetries: 3, baseDelayMs: 5, maxDelayMs: 20, serverDelayFloorMs: 20, serverDelayCeilingMs: 300 },
      ...overrides.retry,
    },
  });
  return { client, logs, acquisitions };
}

/** Answers the scripted replies in order, then the last one forever. */
function script(...replies: StubReply[]) {
  let i = 0;
  return () => replies[Math.min(i++, replies.length - 1)]!;
}

describe('DigitalOceanClient resilience', () => {
  it('retries a 429 after the retry-after the server sent, then succeeds', async () => {
    stub = await startStub(
      script(
        {
          status: 429,
          body: { id: 'too_many_requests', message: 'API rate limit exceeded.' },
          headers: { 'retry-after': '0.25', 'ratelimit-remaining': '0' },
        },
        ok,
      ),
    );
    const { client } = harness(stub.url);
    const started = Date.now();
    await expect(client.getSshKey(7)).resolves.toMatchObject({ id: 7 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(240);
    expect(stub.calls).toHaveLength(2);
  });

  it('gives up on a persistent 429 after the retry cap with a rate_limited error carrying the wait', async () => {
    stub = await startStub(() => ({
      status: 429,
      body: { id: 'too_many_requests', message: 'API rate limit exceeded.' },
      headers: { 'retry-after': '0.05' },
    }));
    const { client } = harness(stub.url);
    const error = await client.getSshKey(7).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DigitalOceanRateLimitedError);
    expect((error as DigitalOceanRateLimitedError).retryAfterMs).toBe(50);
    expect(stub.calls).toHaveLength(4);
  });

  it('waits at least the floor after a 429 whose ratelimit-reset is in the past instead of storming', async () => {
    const past = String(Math.floor(Date.now() / 1000) - 3600);
    stub = await startStub(() => ({
      status: 429,
      body: { id: 'too_many_requests', message: 'x' },
      headers: { 'ratelimit-remaining': '0', 'ratelimit-reset': past },
    }));
    const { client } = harness(stub.url);
    const started = Date.now();
    await expect(client.getSshKey(7)).rejects.toBeInstanceOf(DigitalOceanRateLimitedError);
    expect(stub.calls).toHaveLength(4);
    expect(Date.now() - started).toBeGreaterThanOrEqual(3 * 20);
  });

  it('caps the wait for a ratelimit-reset hours away at the ceiling', async () => {
    const later = String(Math.floor(Date.now() / 1000) + 5 * 3600);
    stub = await startStub(
      script(
        {
          status: 429,
          body: { id: 'too_many_requests', message: 'x' },
          headers: { 'ratelimit-remaining': '0', 'ratelimit-reset': later },
        },
        ok,
      ),
    );
    const { client } = harness(stub.url);
    const started = Date.now();
    await client.getSshKey(7);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(2000);
  });

  it('retries 5xx answers up to the cap, then fails with an unavailable error', async () => {
    stub = await startStub(() => ({ status: 503, body: { id: 'service_unavailable', message: 'down' } }));
    const { client } = harness(stub.url);
    const error = await client.getSshKey(7).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DigitalOceanUnavailableError);
    expect((error as DigitalOceanUnavailableError).reason).toBe('server_error');
    expect(stub.calls).toHaveLength(4);
  });

  it('recovers from a dropped connection by retrying', async () => {
    stub = await startStub(script({ drop: true }, ok));
    const { client } = harness(stub.url);
    await expect(client.getSshKey(7)).resolves.toMatchObject({ id: 7 });
    expect(stub.calls).toHaveLength(2);
  });

  it('times out each attempt and gives up in bounded time with reason timeout', async () => {
    stub = await startStub(() => ({ hang: true }));
    const { client } = harness(stub.url, { timeoutMs: 150 });
    const started = Date.now();
    const error = await client.getSshKey(7).catch((e: unknown) => e);
    expect((error as DigitalOceanUnavailableError).reason).toBe('timeout');
    expect(stub.calls).toHaveLength(4);
    // Four attempts of 150 ms plus three short backoffs: about 0.65 s, and never the 2 s default.
    expect(Date.now() - started).toBeLessThan(1900);
  });

  it.each([
    [404, DigitalOceanNotFoundError],
    [422, DigitalOceanUnprocessableError],
    [400, DigitalOceanUnprocessableError],
    [401, DigitalOceanUnauthorizedError],
    [403, DigitalOceanUnauthorizedError],
  ])('never retries a %i answer', async (status, type) => {
    stub = await startStub(() => ({ status, body: { id: 'nope', message: 'the reason DigitalOcean gave' } }));
    const { client } = harness(stub.url);
    await expect(client.getSshKey(7)).rejects.toBeInstanceOf(type);
    expect(stub.calls).toHaveLength(1);
  });

  it('carries DigitalOcean message in an unprocessable error', async () => {
    stub = await startStub(() => ({
      status: 422,
      body: { id: 'unprocessable_entity', message: 'Name is invalid' },
    }));
    const { client } = harness(stub.url);
    const error = (await client
      .updateSshKeyName(7, '!')
      .catch((e: unknown) => e)) as DigitalOceanUnprocessableError;
    expect(error.doMessage).toBe('Name is invalid');
    expect(error.code).toBe('upstream_unprocessable');
  });

  it('draws from the rate budget for every attempt, retries included', async () => {
    stub = await startStub(
      script(
        { status: 500, body: { id: 'server_error', message: 'x' } },
        { status: 502, body: { id: 'x', message: 'x' } },
        ok,
      ),
    );
    const h = harness(stub.url);
    await h.client.getSshKey(7, { priority: 'background' });
    expect(stub.calls).toHaveLength(3);
    expect(h.acquisitions).toEqual(['background', 'background', 'background']);
  });

  it('fails with rate_limited, sending nothing, when the budget will not admit a request in time', async () => {
    stub = await startStub(() => ok);
    const never: RateBudget = {
      acquire: (_p, signal) =>
        new Promise((_r, reject) => signal?.addEventListener('abort', () => reject(signal.reason))),
    };
    const { client } = harness(stub.url, { rateBudget: never, maxBudgetWaitMs: 50 });
    const error = (await client.getSshKey(7).catch((e: unknown) => e)) as DigitalOceanRateLimitedError;
    expect(error).toBeInstanceOf(DigitalOceanRateLimitedError);
    expect(error.source).toBe('budget');
    expect(stub.calls).toHaveLength(0);
  });

  it('retries a droplet action only on 429, since a reboot that timed out may have happened', async () => {
    stub = await startStub(() => ({ status: 500, body: { id: 'server_error', message: 'x' } }));
    const { client } = harness(stub.url);
    await expect(client.postDropletAction(1, { type: 'reboot' })).rejects.toBeInstanceOf(
      DigitalOceanUnavailableError,
    );
    expect(stub.calls).toHaveLength(1);

    await stub.close();
    stub = await startStub(
      script(
        { status: 429, body: { id: 'too_many_requests', message: 'x' }, headers: { 'retry-after': '0' } },
        { status: 201, body: { action: { id: 9, status: 'in-progress' } } },
      ),
    );
    const second = harness(stub.url).client;
    await expect(second.postDropletAction(1, { type: 'reboot' })).resolves.toMatchObject({ id: 9 });
    expect(stub.calls).toHaveLength(2);
  });

  it('opens the breaker after repeated upstream failures, fails fast while open, and closes after a good trial', async () => {
    let healthy = false;
    stub = await startStub(() =>
      healthy ? ok : { status: 500, body: { id: 'server_error', message: 'x' } },
    );
    const states: string[] = [];
    const { client } = harness(stub.url, {
      retry: { maxRetries: 0 },
      breaker: { consecutiveFailures: 3, halfOpenAfterMs: 1000 },
    });
    client.onBreakerStateChange((s) => states.push(s));
    for (let i = 0; i < 3; i++)
      await expect(client.getSshKey(7)).rejects.toBeInstanceOf(DigitalOceanUnavailableError);
    expect(client.breakerState()).toBe('open');

    const started = Date.now();
    const fast = (await client.getSshKey(7).catch((e: unknown) => e)) as DigitalOceanUnavailableError;
    expect(fast.reason).toBe('circuit_open');
    expect(fast.code).toBe('unavailable');
    expect(Date.now() - started).toBeLessThan(250);
    expect(stub.calls).toHaveLength(3);

    // A second's wait before the trial, so that a loaded machine's stall cannot let the
    // breaker half-open before the fail-fast call above.
    healthy = true;
    await new Promise((r) => setTimeout(r, 1050));
    await expect(client.getSshKey(7)).resolves.toMatchObject({ id: 7 });
    expect(client.breakerState()).toBe('closed');
    expect(states).toEqual(['open', 'half-open', 'closed']);
  });

  it('stops retrying once the breaker opens mid-call, so one call cannot hammer a failing API', async () => {
    stub = await startStub(() => ({ status: 500, body: { id: 'server_error', message: 'x' } }));
    const { client } = harness(stub.url, {
      retry: { maxRetries: 10 },
      breaker: { consecutiveFailures: 2, halfOpenAfterMs: 10_000 },
    });
    const error = (await client.getSshKey(7).catch((e: unknown) => e)) as DigitalOceanUnavailableError;
    expect(error.reason).toBe('circuit_open');
    expect(stub.calls).toHaveLength(2);
  });

  it('does not count 404s toward opening the breaker', async () => {
    stub = await startStub(() => ({ status: 404, body: { id: 'not_found', message: 'x' } }));
    const { client } = harness(stub.url, { breaker: { consecutiveFailures: 2, halfOpenAfterMs: 10_000 } });
    for (let i = 0; i < 5; i++)
      await expect(client.getSshKey(7)).rejects.toBeInstanceOf(DigitalOceanNotFoundError);
    expect(client.breakerState()).toBe('closed');
  });

  it('sends the token only in the Authorization header and never logs it or puts it in an error', async () => {
    stub = await startStub((call) => ({
      status: 422,
      // A hostile or buggy server echoing the header back must not leak it through berth.
      body: { id: 'unprocessable_entity', message: `bad request with ${call.headers.authorization}` },
    }));
    const h = harness(stub.url);
    const error = (await h.client.getSshKey(7).catch((e: unknown) => e)) as Error;
    expect(stub.calls[0]!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(error.message).toContain('[redacted]');
    const everything = [
      error.message,
      error.stack,
      JSON.stringify(error),
      JSON.stringify((error as { details?: unknown }).details),
      ...h.logs,
    ].join('\n');
    expect(everything).not.toContain(TOKEN);
    expect(h.logs.length).toBeGreaterThan(0);
  });

  it('reads the token from the provider for every request, so a rotated token is used at once', async () => {
    stub = await startStub(() => ok);
    let token = 'first-token';
    const { client } = harness(stub.url, { token: async () => token });
    await client.getSshKey(7);
    token = 'rotated-token';
    await client.getSshKey(7);
    expect(stub.calls.map((c) => c.headers.authorization)).toEqual([
      'Bearer first-token',
      'Bearer rotated-token',
    ]);
  });
});
