/**
 * berth's Prometheus metrics: one registry per process, created by the composition root
 * and handed to the parts that record into it (no global registry, so tests can build as
 * many berths as they like). Names follow Prometheus conventions: `berth_` prefix, base
 * units (seconds), `_total` for counters. The alert rules in ops/prometheus/ and the
 * Grafana dashboard read exactly these names.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export type DeployPath = 'warm' | 'cold' | 'fallback' | 'static';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'berth_process_' });
  const seconds = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
  ];
  return {
    registry,
    deployKeyOverhead: new Histogram({
      name: 'berth_deploy_key_overhead_seconds',
      help: 'Time a deploy spends getting its SSH keys ready, by path (warm cache, cold, fallback).',
      labelNames: ['path'],
      buckets: seconds,
      registers: [registry],
    }),
    deployDuration: new Histogram({
      name: 'berth_deploy_duration_seconds',
      help: 'From a deploy being recorded to its droplet create being answered, by key path.',
      labelNames: ['path'],
      buckets: seconds,
      registers: [registry],
    }),
    deploys: new Counter({
      name: 'berth_deploys_total',
      help: 'Deploys that reached a result, by outcome (created, failed) and key path.',
      labelNames: ['outcome', 'path'],
      registers: [registry],
    }),
    keyCache: new Counter({
      name: 'berth_ssh_key_cache_requests_total',
      help: 'Deployment key cache lookups, by result (hit_memory, hit_redis, miss).',
      labelNames: ['result'],
      registers: [registry],
    }),
    doRequests: new Counter({
      name: 'berth_digitalocean_requests_total',
      help: 'DigitalOcean API requests, by endpoint and status (or "network").',
      labelNames: ['endpoint', 'status'],
      registers: [registry],
    }),
    doLatency: new Histogram({
      name: 'berth_digitalocean_request_duration_seconds',
      help: 'DigitalOcean API request latency, by endpoint.',
      labelNames: ['endpoint'],
      buckets: seconds,
      registers: [registry],
    }),
    doBudgetRemaining: new Gauge({
      name: 'berth_digitalocean_rate_budget_remaining',
      help: 'Requests left in the sliding window, by window (minute, hour), as berth counts them.',
      labelNames: ['window'],
      registers: [registry],
    }),
    doBreakerState: new Gauge({
      name: 'berth_digitalocean_circuit_state',
      help: 'The DigitalOcean circuit breaker: 0 closed, 1 half-open, 2 open.',
      registers: [registry],
    }),
    vaultOperations: new Counter({
      name: 'berth_vault_operations_total',
      help: 'Vault operations, by operation (encrypt, decrypt, rewrap) and outcome.',
      labelNames: ['operation', 'outcome'],
      registers: [registry],
    }),
    httpRequests: new Counter({
      name: 'berth_http_requests_total',
      help: 'HTTP requests, by method, route pattern and status.',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'berth_http_request_duration_seconds',
      help: 'HTTP request latency, by method and route pattern.',
      labelNames: ['method', 'route'],
      buckets: seconds,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
