import { Writable } from 'node:stream';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { requestIds } from '../http/middleware.ts';
import type { AppEnv } from '../http/types.ts';
import { observeRequests, routeLabel } from './http.ts';
import { createLogger, type Logger } from './logger.ts';
import type { HttpObserver } from './observers.ts';

function memoryLogger(level = 'debug') {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, logger: createLogger({ level, destination }) };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

function app(logger: Logger, observer?: HttpObserver) {
  const a = new Hono<AppEnv>();
  a.use('*', requestIds());
  a.use('*', observeRequests({ logger, ...(observer ? { observer } : {}) }));
  a.get('/api/ssh-keys/:id', async (c) => c.json({ ok: true }));
  a.get('/boom', () => {
    throw new Error('broken');
  });
  a.get('/healthz', (c) => c.text('ok'));
  return a;
}

describe('request observation', () => {
  it('writes one access line per request, under the request’s id', async () => {
    const { lines, logger } = memoryLogger();
    const res = await app(logger).request('/api/ssh-keys/abc', { headers: { 'x-request-id': 'req-1' } });
    expect(res.status).toBe(200);
    await app(logger).request('/api/ssh-keys/def');
    await flush();
    const access = lines.filter((l) => l.msg === 'request');
    expect(access).toEqual([
      expect.objectContaining({ requestId: 'req-1', route: '/api/ssh-keys/:id', status: 200 }),
      expect.objectContaining({ requestId: expect.stringMatching(/^[0-9a-f-]{36}$/), status: 200 }),
    ]);
  });

  it('reports the route pattern and status, never the path, including for failures', async () => {
    const { logger } = memoryLogger('silent');
    const seen: { route: string; status: number; method: string }[] = [];
    const a = app(logger, { request: (r) => seen.push(r) });
    a.onError((_error, c) => c.text('failed', 500));
    await a.request('/api/ssh-keys/8f1c');
    await a.request('/boom');
    await a.request('/no/such/address');
    expect(seen.map(({ method, route, status }) => ({ method, route, status }))).toEqual([
      { method: 'GET', route: '/api/ssh-keys/:id', status: 200 },
      { method: 'GET', route: '/boom', status: 500 },
      { method: 'GET', route: 'unmatched', status: 404 },
    ]);
  });

  it('logs probes at debug only, and never the query string', async () => {
    const { lines, logger } = memoryLogger('info');
    const a = app(logger);
    await a.request('/healthz');
    await a.request('/api/ssh-keys/k?token=should-not-appear');
    await flush();
    const access = lines.filter((l) => l.msg === 'request');
    expect(access.map((l) => l.path)).toEqual(['/api/ssh-keys/k']);
    expect(JSON.stringify(lines)).not.toContain('should-not-appear');
  });

  it('labels an unmatched address as such, whatever wildcard answered it', () => {
    expect(routeLabel('', 404)).toBe('unmatched');
    expect(routeLabel('/api/*', 404)).toBe('unmatched');
    expect(routeLabel('/api/*', 401)).toBe('/api/*');
    expect(routeLabel('/api/agents/:id', 404)).toBe('/api/agents/:id');
  });
});

describe('the logger', () => {
  it('redacts secret fields at the top and one level down', async () => {
    const { lines, logger } = memoryLogger();
    logger.info(
      {
        token: 'do-token',
        password: 'hunter2',
        body: { private_key: '-----BEGIN', refresh_token: 'r', apikey: 'k' },
        headers: { authorization: 'Bearer abc', 'x-internal-api-secret': 's3cr3t' },
        config: { jwtSecret: 'j', masterKeys: 'k1:abc' },
        keyId: 'not a secret',
      },
      'fields',
    );
    await flush();
    const text = JSON.stringify(lines);
    for (const secret of ['do-token', 'hunter2', '-----BEGIN', 'Bearer abc', 's3cr3t', 'k1:abc', '"j"']) {
      expect(text).not.toContain(secret);
    }
    expect(lines[0]).toMatchObject({ keyId: 'not a secret', token: '[redacted]' });
  });

  it('redacts nested secrets without touching the object that was logged', async () => {
    const { lines, logger } = memoryLogger();
    const logged = {
      request: { headers: { Authorization: 'Bearer abc', accept: 'json' } },
      keys: [{ password: 'p' }],
    };
    logger.info(logged, 'nested');
    await flush();
    expect(lines[0]).toMatchObject({
      request: { headers: { Authorization: '[redacted]', accept: 'json' } },
      keys: [{ password: '[redacted]' }],
    });
    expect(logged.request.headers.Authorization).toBe('Bearer abc');
  });

  it('redacts in a child logger that carries a request id', async () => {
    const { lines, logger } = memoryLogger();
    logger.child({ requestId: 'r1' }).info({ token: 'do-token' }, 'scoped');
    await flush();
    expect(lines[0]).toMatchObject({ requestId: 'r1', token: '[redacted]' });
  });
});
