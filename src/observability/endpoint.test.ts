import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import type { AppEnv } from '../http/types.ts';
import { metricsExposure, metricsRoutes } from './endpoint.ts';
import { createMetrics } from './metrics.ts';

const TOKEN = 'metrics-token-0123456789-abcdefghijklmnop';
const SECRET = 'internal-secret-0123456789-abcdefghijklmn';

function app(options: { bearerTokens: string[]; internalSecret?: string }) {
  const a = new Hono<AppEnv>();
  a.use('*', async (c, next) => {
    c.set('requestId', 'r');
    await next();
  });
  metricsRoutes({ registry: createMetrics().registry, ...options })(a);
  return a;
}

describe('GET /metrics', () => {
  it('serves the Prometheus text format to a scrape with the metrics token', async () => {
    const res = await app({ bearerTokens: [TOKEN] }).request('/metrics', {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toContain('# TYPE berth_deploy_key_overhead_seconds histogram');
    expect(text).toContain('process_cpu_user_seconds_total');
  });

  it('refuses a scrape without a token, or with a wrong one, and says how to authenticate', async () => {
    const a = app({ bearerTokens: [TOKEN] });
    const attempts: Record<string, string>[] = [
      {},
      { authorization: `Bearer ${TOKEN}x` },
      { authorization: TOKEN },
    ];
    for (const headers of attempts) {
      const res = await a.request('/metrics', { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('Bearer');
      expect(await res.text()).not.toContain('berth_');
    }
  });

  it('takes the internal secret as the internal API takes it, or as a bearer token', async () => {
    const a = app({ bearerTokens: [TOKEN, SECRET], internalSecret: SECRET });
    const ways: Record<string, string>[] = [
      { 'x-internal-api-secret': SECRET },
      { authorization: `Bearer ${SECRET}` },
    ];
    for (const headers of ways) {
      expect((await a.request('/metrics', { headers })).status).toBe(200);
    }
    expect((await a.request('/metrics', { headers: { 'x-internal-api-secret': TOKEN } })).status).toBe(401);
  });

  it('is closed to everyone when no token is configured', async () => {
    const res = await app({ bearerTokens: [''] }).request('/metrics', {
      headers: { authorization: 'Bearer ' },
    });
    expect(res.status).toBe(401);
  });
});

describe('where metrics are served', () => {
  const registry = createMetrics().registry;

  it('on the internal listener when it runs, never on the public one', () => {
    const where = metricsExposure({ registry, internalSecret: SECRET, metricsToken: TOKEN });
    expect(where.internal).toBeDefined();
    expect(where.public).toBeUndefined();
    expect(where.url('http://pub:8080', 'http://int:8081/')).toBe('http://int:8081/metrics');
  });

  it('on the public listener behind the token when there is no internal listener', () => {
    const where = metricsExposure({ registry, internalSecret: undefined, metricsToken: TOKEN });
    expect(where.internal).toBeUndefined();
    expect(where.public).toBeDefined();
    expect(where.url('http://pub:8080', null)).toBe('http://pub:8080/metrics');
  });

  it('nowhere with neither', () => {
    const where = metricsExposure({ registry, internalSecret: undefined, metricsToken: undefined });
    expect([where.internal, where.public, where.url('http://pub:8080', null)]).toEqual([
      undefined,
      undefined,
      null,
    ]);
  });
});
