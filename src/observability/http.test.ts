import { Writable } from 'node:stream';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { requestIds } from '../http/middleware.ts';
import type { AppEnv } from '../http/types.ts';
import { observeRequests, routeLabel } from './http.ts';
import { createLogger, type Logger } from './logger.ts';
import type { HttpObserver } from './observers.ts';
import { RequestContext, withRequestIds } from './request-context.ts';

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

function app(logger: Logger, context: RequestContext, observer?: HttpObserver) {
  const a = new Hono<AppEnv>();
  a.use('*', requestIds());
  a.use('*', observeRequests({ logger, context, ...(observer ? { observer } : {}) }));
  a.get('/api/ssh-keys/:id', async (c) => {
    // A service deep inside the request logs with no idea which request it serves.
    logger.info({ keyId: c.req.param('id') }, 'service line');
    return c.json({ ok: true });
  });
  a.get('/boom', () => {
    throw new Error('broken');
  });
  a.get('/healthz', (c) => c.text('ok'));
  return a;
}

describe('request observation', () => {
  it('puts the request id on every line written while the request is served, and on none after', async () => {
    const { lines, logger: base } = memoryLogger();
    const context = new RequestContext();
    const logger = withRequestIds(base, context);
    const res = await app(logger, context).request('/api/ssh-keys/abc', {
      headers: { 'x-request-id': 'req-1' },
    });
    expect(res.status).toBe(200);
    logger.info('a line from no request');
    await flush();
    const service = lines.find((l) => l.msg === 'service line');
    const access = lines.find((l) => l.msg === 'request');
    expect(service).toMatchObject({ requestId: 'req-1', keyId: 'abc' });
    expect(access).toMatchObject({ requestId: 'req-1', route: '/api/ssh-keys/:id', status: 200 });
    expect(lines.find((l) => l.msg === 'a line from no request')).not.toHaveProperty('requestId');
  });

  it('does not let work a request started claim its id after the answer', async () => {
    const { lines, logger: base } = memoryLogger();
    const context = new RequestContext();
    const logger = withRequestIds(base, context);
    let later: () => void = () => {};
    const done = new Promise<void>((resolve) => {
      later = resolve;
    });
    const a = new Hono<AppEnv>();
    a.use('*', requestIds(), observeRequests({ logger, context }));
    a.post('/deploy', (c) => {
      setTimeout(() => {
        logger.info('background work');
        later();
      }, 5);
      return c.json({}, 202);
    });
    await a.request('/deploy', { method: 'POST', headers: { 'x-request-id': 'req-2' } });
    await done;
    await flush();
    expect(lines.find((l) => l.msg === 'background work')).not.toHaveProperty('requestId');
  });

  it('reports the route pattern and status, never the path, including for failures', async () => {
    const { logger } = memoryLogger('silent');
    const seen: { route: string; status: number; method: string }[] = [];
    const a = app(logger, new RequestContext(), { request: (r) => seen.push(r) });
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
    const context = new RequestContext();
    const a = app(logger, context);
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

  it('redacts inside a request scope too', async () => {
    const { lines, logger: base } = memoryLogger();
    const context = new RequestContext();
    const logger = withRequestIds(base, context);
    await context.run('r1', async () => logger.info({ token: 'do-token' }, 'scoped'));
    await flush();
    expect(lines[0]).toMatchObject({ requestId: 'r1', token: '[redacted]' });
  });

  it('keeps a request id the caller logged explicitly', async () => {
    const { lines, logger: base } = memoryLogger();
    const context = new RequestContext();
    const logger = withRequestIds(base, context);
    await context.run('outer', async () => logger.info({ requestId: 'explicit' }, 'line'));
    await flush();
    expect(lines[0]?.requestId).toBe('explicit');
    expect(JSON.stringify(lines[0]).match(/requestId/g)).toHaveLength(1);
  });
});
