import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_CSP, API_HEADERS, defaultHeaders, SECURITY_HEADERS } from './default-headers.ts';
import { requestIds } from './middleware.ts';
import { type Listener, listen } from './server.ts';
import type { AppEnv } from './types.ts';

function app() {
  const a = new Hono<AppEnv>();
  a.use('*', requestIds(), defaultHeaders());
  a.get('/api/thing', (c) => c.json({ id: c.get('requestId') }));
  a.get('/api/own-policy', (c) =>
    c.json({}, 200, { 'content-security-policy': "default-src 'self'", 'cache-control': 'max-age=60' }),
  );
  a.get('/page', (c) => c.html('<p>hi</p>'));
  a.get('/api/fails', () => {
    throw new Error('boom');
  });
  a.onError((_e, c) => c.json({ error: true }, 500));
  return a;
}

// The same application answered through Node (headers written to the Node response)
// and through app.request (headers set on the fetch Response): the answers must agree.
describe.each(['node', 'fetch'] as const)('default headers, served through %s', (via) => {
  let server: Listener | null = null;
  const a = app();
  const get = (path: string, headers: Record<string, string> = {}) =>
    via === 'node' ? fetch(`${server?.url}${path}`, { headers }) : a.request(path, { headers });

  beforeAll(async () => {
    if (via === 'node') server = await listen(a.fetch, { port: 0, host: '127.0.0.1' });
  });
  afterAll(() => server?.close());

  it('puts the document security headers on pages, and the API’s own set with its policy and no-store on the API’s', async () => {
    const api = await get('/api/thing');
    const page = await get('/page');
    for (const [name, value] of Object.entries(SECURITY_HEADERS))
      expect(page.headers.get(name), name).toBe(value);
    for (const [name, value] of Object.entries(API_HEADERS)) expect(api.headers.get(name), name).toBe(value);
    expect(api.headers.get('content-security-policy')).toBe(API_CSP);
    expect(api.headers.get('cache-control')).toBe('no-store');
    expect(api.headers.get('x-frame-options')).toBe('DENY');
    expect(api.headers.get('content-type')).toMatch(/^application\/json/);
    expect(page.headers.get('content-security-policy')).toBeNull();
    expect(page.headers.get('cache-control')).toBeNull();
  });

  it('lets a route’s own value win', async () => {
    const res = await get('/api/own-policy');
    expect(res.headers.get('content-security-policy')).toBe("default-src 'self'");
    expect(res.headers.get('cache-control')).toBe('max-age=60');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
  });

  it('keeps them on an error answer', async () => {
    const res = await get('/api/fails');
    expect(res.status).toBe(500);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('echoes a sane request id and replaces any other with a fresh one', async () => {
    const given = await get('/api/thing', { 'x-request-id': 'trace-1' });
    expect(given.headers.get('x-request-id')).toBe('trace-1');
    expect(((await given.json()) as { id: string }).id).toBe('trace-1');
    const replaced = await get('/api/thing', { 'x-request-id': 'not sane!' });
    const id = replaced.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(((await replaced.json()) as { id: string }).id).toBe(id);
  });
});
