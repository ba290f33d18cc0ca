import { describe, expect, it } from 'vitest';
import { createMetrics } from './metrics.ts';
import { createObservers, endpointLabel } from './observers.ts';

async function sample(
  metrics: ReturnType<typeof createMetrics>,
  name: string,
  labels: Record<string, string>,
) {
  const metric = await metrics.registry.getSingleMetric(name)?.get();
  const value = metric?.values.find((v) =>
    Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want),
  );
  return value?.value;
}

describe('endpoint labels', () => {
  it('names an endpoint, not a droplet, key or action', () => {
    expect(endpointLabel('GET', '/v2/droplets/412345678')).toBe('GET /v2/droplets/{id}');
    expect(endpointLabel('POST', '/v2/droplets/4123/actions')).toBe('POST /v2/droplets/{id}/actions');
    expect(endpointLabel('DELETE', '/v2/account/keys/3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa')).toBe(
      'DELETE /v2/account/keys/{id}',
    );
    expect(endpointLabel('GET', '/v2/droplets')).toBe('GET /v2/droplets');
    expect(endpointLabel('DELETE', '/v2/droplets')).toBe('DELETE /v2/droplets');
  });
});

describe('observers', () => {
  it('starts the counters alerts watch at zero, so the first failure shows as an increase', async () => {
    const metrics = createMetrics();
    const text = await metrics.registry.metrics();
    expect(text).toContain('berth_vault_operations_total{operation="decrypt",outcome="failure"} 0');
    expect(text).toContain('berth_deploys_total{outcome="failed",path="cold"} 0');
    expect(text).toContain('berth_deploy_key_overhead_seconds_count{path="fallback"} 0');
    expect(text).toContain('berth_digitalocean_rate_limited_total 0');
    expect(text).toContain('berth_digitalocean_circuit_opened_total 0');
  });

  it('counts a DigitalOcean 429 as a request of its endpoint and as rate limited', async () => {
    const metrics = createMetrics();
    const observers = createObservers(metrics);
    observers.digitalocean.call({ method: 'POST', path: '/v2/droplets', status: 429, seconds: 0.2 });
    observers.digitalocean.call({ method: 'GET', path: '/v2/droplets/7', status: 'network', seconds: 0.1 });
    observers.digitalocean.refused({ method: 'GET', path: '/v2/droplets', reason: 'circuit_open' });
    expect(
      await sample(metrics, 'berth_digitalocean_requests_total', {
        endpoint: 'POST /v2/droplets',
        status: '429',
      }),
    ).toBe(1);
    expect(
      await sample(metrics, 'berth_digitalocean_requests_total', {
        endpoint: 'GET /v2/droplets/{id}',
        status: 'network',
      }),
    ).toBe(1);
    expect(await sample(metrics, 'berth_digitalocean_rate_limited_total', {})).toBe(1);
    expect(await sample(metrics, 'berth_digitalocean_refused_total', { reason: 'circuit_open' })).toBe(1);
  });

  it('records deploys, key paths, cache results, jobs and vault operations under their labels', async () => {
    const metrics = createMetrics();
    const o = createObservers(metrics);
    o.deployKeys.keysReady('warm', 0.00002);
    o.deploys.deployFinished('created', 'warm', 0.05);
    o.deploys.deployFinished('failed', 'fallback', 0.5);
    o.cache.hit('memory');
    o.cache.hit('redis');
    o.cache.miss();
    o.jobs.queuesStarted?.(['onboard-user']);
    o.jobs.jobFinished('onboard-user', 'dead', 1.5);
    o.vault.operation('decrypt', 'failure');
    o.http('internal').request({ method: 'GET', route: '/metrics', status: 200, seconds: 0.003 });

    expect(await sample(metrics, 'berth_deploy_key_overhead_seconds', { path: 'warm', le: '0.000025' })).toBe(
      1,
    );
    expect(await sample(metrics, 'berth_deploys_total', { outcome: 'created', path: 'warm' })).toBe(1);
    expect(await sample(metrics, 'berth_deploys_total', { outcome: 'failed', path: 'fallback' })).toBe(1);
    for (const result of ['hit_memory', 'hit_redis', 'miss']) {
      expect(await sample(metrics, 'berth_ssh_key_cache_requests_total', { result })).toBe(1);
    }
    expect(await sample(metrics, 'berth_job_runs_total', { queue: 'onboard-user', outcome: 'dead' })).toBe(1);
    expect(
      await sample(metrics, 'berth_job_runs_total', { queue: 'onboard-user', outcome: 'completed' }),
    ).toBe(0);
    expect(
      await sample(metrics, 'berth_vault_operations_total', { operation: 'decrypt', outcome: 'failure' }),
    ).toBe(1);
    expect(
      await sample(metrics, 'berth_http_requests_total', {
        listener: 'internal',
        method: 'GET',
        route: '/metrics',
        status: '200',
      }),
    ).toBe(1);
  });

  it('keeps registries apart, so two berths in one process do not add up', async () => {
    const a = createMetrics();
    const b = createMetrics();
    createObservers(a).cache.miss();
    expect(await sample(a, 'berth_ssh_key_cache_requests_total', { result: 'miss' })).toBe(1);
    expect(await sample(b, 'berth_ssh_key_cache_requests_total', { result: 'miss' })).toBeUndefined();
  });
});
