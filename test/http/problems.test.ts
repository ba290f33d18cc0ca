/**
 * The edges of every request: problem+json answers for malformed, oversized, mistyped and
 * too frequent requests, server failures that reveal nothing, request ids, security
 * headers and CORS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DigitalOceanRateLimitedError,
  DigitalOceanUnauthorizedError,
} from '../../src/digitalocean/errors.ts';
import { clientIpResolver } from '../../src/http/middleware.ts';
import { type EngineName, openTestDatabase, type TestDatabase, testEngines } from '../support/db.ts';
import { buildApi, call, tokenFor } from './support.ts';

const expectProblem = (res: Awaited<ReturnType<typeof call>>, status: number, kind: string) => {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  expect(res.json).toMatchObject({ type: `https://berth.dev/problems/${kind}`, status });
  expect(typeof res.json.title).toBe('string');
  expect(typeof res.json.detail).toBe('string');
  expect(res.json.request_id).toBe(res.headers.get('x-request-id'));
};

describe.each(testEngines())('problems, limits and headers on %s', (engine: EngineName) => {
  let t: TestDatabase;
  let api: ReturnType<typeof buildApi>;
  let token: string;
  let userId: string;

  beforeAll(async () => {
    t = await openTestDatabase(engine);
    api = buildApi(t);
    userId = await t.createUser();
    token = await tokenFor(userId);
  });
  afterAll(() => t.close());

  it('answers malformed JSON with 400', async () => {
    const res = await call(api.app, 'POST', '/api/agents', { token, body: '{"name": ' });
    expectProblem(res, 400, 'malformed-json');
  });

  it('answers a missing field with 400 naming it', async () => {
    const res = await call(api.app, 'POST', '/api/agents', { token, body: {} });
    expectProblem(res, 400, 'invalid-input');
    expect(res.json.errors).toEqual([expect.objectContaining({ location: 'body', field: 'name' })]);
  });

  it('answers an unknown address and a malformed id with 404', async () => {
    expectProblem(await call(api.app, 'GET', '/api/nothing-here', { token }), 404, 'not-found');
    expectProblem(await call(api.app, 'GET', '/api/agents/12345', { token }), 404, 'not-found');
    expectProblem(await call(api.app, 'GET', '/nowhere'), 404, 'not-found');
  });

  it('answers a body over the limit with 413 before parsing it, declared or streamed', async () => {
    const big = JSON.stringify({ name: 'x'.repeat(70 * 1024) });
    const declared = await call(api.app, 'POST', '/api/agents', {
      token,
      body: big,
      headers: { 'content-length': String(Buffer.byteLength(big)) },
    });
    expectProblem(declared, 413, 'payload-too-large');
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 80; i++) controller.enqueue(new TextEncoder().encode('x'.repeat(1024)));
        controller.close();
      },
    });
    const streamed = await api.app.request('/api/agents', {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        'transfer-encoding': 'chunked',
      },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(streamed.headers.get('content-type')).toBe('application/problem+json');
    expect((await api.agents.listAgents(userId)).length).toBe(0);
  });

  it('answers a body that is not JSON with 415', async () => {
    const res = await call(api.app, 'POST', '/api/agents', {
      token,
      body: 'name=x',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expectProblem(res, 415, 'unsupported-media-type');
    const untyped = await api.app.request('/api/agents', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: new Blob(['{"name":"x"}']),
    });
    expect(untyped.status).toBe(415);
  });

  it('limits costly routes per user and per address with 429 and retry-after', async () => {
    const limited = buildApi(t, {
      rateLimits: { userPerMinute: 2, ipPerMinute: 3 },
      clientIp: clientIpResolver(1),
    });
    const generate = (tok: string, ip: string) =>
      call(limited.app, 'POST', '/api/ssh-keys', {
        token: tok,
        body: { name: 'k' },
        headers: { 'x-forwarded-for': ip },
      });
    const first = await generate(token, '198.51.100.1');
    const second = await generate(token, '198.51.100.2');
    expect([first.status, second.status]).toEqual([201, 201]);
    const third = await generate(token, '198.51.100.3');
    expectProblem(third, 429, 'rate-limited');
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // Cheap routes are not limited.
    expect((await call(limited.app, 'GET', '/api/ssh-keys', { token })).status).toBe(200);
    // Per address: three other users from one address, then the fourth is refused.
    const fromOneAddress = [];
    for (let i = 0; i < 4; i++) {
      const other = await tokenFor(await t.createUser());
      fromOneAddress.push((await generate(other, '203.0.113.9')).status);
    }
    expect(fromOneAddress).toEqual([201, 201, 201, 429]);
  });

  it('answers a server failure with a generic 500 that reveals nothing', async () => {
    const agents = api.agents;
    const failing = buildApi(t, {
      agents: {
        getAgent: (user, id) => agents.getAgent(user, id),
        createAgent: (user, input) => agents.createAgent(user, input),
        deleteAgent: (user, id) => agents.deleteAgent(user, id),
        listAgents: async () => {
          throw new Error('relation "secret_table" does not exist at /srv/berth/src/store/agents.ts:12');
        },
      },
    });
    const res = await call(failing.app, 'GET', '/api/agents', { token });
    expectProblem(res, 500, 'internal');
    expect(res.text).not.toMatch(/secret_table|\/srv|\.ts:|at /);
  });

  it('answers DigitalOcean’s refusals as berth’s upstream failing, never as the caller’s 401 or 429', async () => {
    const call0 = { method: 'POST', path: '/v2/droplets', status: 401 };
    for (const [error, status] of [
      [new DigitalOceanUnauthorizedError(call0, 'Unable to authenticate you'), 502],
      [new DigitalOceanRateLimitedError(call0, 30_000), 503],
    ] as const) {
      const failing = buildApi(t, {
        environments: {
          ensureToolEnvironmentReady: async () => {
            throw error;
          },
          getToolEnvironment: async () => null,
          teardownToolEnvironment: async () => {
            throw error;
          },
        },
      });
      const agent = await api.agents.createAgent(userId, { name: 'a' });
      const res = await call(failing.app, 'POST', `/api/agents/${agent.id}/tool-environment`, { token });
      expect(res.status).toBe(status);
      expect(res.json.code).toBe('upstream');
      expect(res.text).not.toContain('Unable to authenticate');
      if (status === 503) expect(res.headers.get('retry-after')).toBe('30');
    }
  });

  it('carries the caller’s request id through to the service, or makes one', async () => {
    const agent = await api.agents.createAgent(userId, { name: 'ids' });
    const res = await call(api.app, 'POST', `/api/agents/${agent.id}/tool-environment`, {
      token,
      headers: { 'x-request-id': 'trace-abc-123' },
    });
    expect(res.headers.get('x-request-id')).toBe('trace-abc-123');
    expect(api.environments.calls.at(-1)?.ctx?.requestId).toBe('trace-abc-123');
    const made = await call(api.app, 'GET', '/healthz', {
      headers: { 'x-request-id': 'bad id with spaces' },
    });
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('sets security headers, keeps answers out of caches and sends no CORS headers unless configured', async () => {
    const res = await call(api.app, 'GET', '/api/ssh-keys', {
      token,
      headers: { origin: 'https://app.example' },
    });
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('strict-transport-security')).toMatch(/max-age=/);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const withCors = buildApi(t, { corsOrigins: ['https://app.example'] });
    const preflight = await withCors.app.request('/api/ssh-keys', {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example');
    const other = await withCors.app.request('/api/ssh-keys', {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('answers health and readiness', async () => {
    expect((await call(api.app, 'GET', '/healthz')).json).toEqual({ status: 'ok' });
    expect((await call(api.app, 'GET', '/readyz')).json).toEqual({ status: 'ready' });
    const down = buildApi(t, { ready: async () => false });
    const res = await call(down.app, 'GET', '/readyz');
    expect([res.status, res.json]).toEqual([503, { status: 'not ready' }]);
  });
});
