/**
 * berth's Prometheus metrics: one registry per process, created by the composition root
 * (no global registry, so tests can build as many berths as they like). Names follow
 * Prometheus conventions: `berth_` prefix, base units (seconds), `_total` for counters;
 * process and Node.js metrics keep prom-client's standard names so stock dashboards work.
 * The alert rules in ops/prometheus/ and the Grafana dashboard in ops/grafana/ read
 * exactly these names (a test checks both against this registry). Figures read at
 * scrape time (queue depth, onboarding states, the rate budget) are in scrape.ts.
 *
 * Counters an alert watches with `increase()` are created at zero for every label value
 * they can take: a series that first appears already at 1 shows no increase, and the
 * first decryption failure would go unnoticed.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { RequestSeries } from './request-series.ts';

/** Key step timings, from a warm cache hit (microseconds) to a cold DigitalOcean round trip. */
const KEY_SECONDS = [
  0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
  0.5, 1, 2.5, 5,
];
/** Requests and calls: a millisecond to a minute. */
const CALL_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export const KEY_PATHS = ['warm', 'cold', 'fallback'] as const;
/** Key paths as a deploy's outcome counts them: `static` keys (benchmarks), `none` (failed before keys). */
export const DEPLOY_PATHS = [...KEY_PATHS, 'static', 'none'] as const;

export function createMetrics(options: { version?: string } = {}) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const info = new Gauge({
    name: 'berth_info',
    help: 'Always 1; its labels say which berth is running.',
    labelNames: ['version'],
    registers,
  });
  info.set({ version: options.version ?? 'unknown' }, 1);

  const keyListReads = { hit: 0, miss: 0 };
  const metrics = {
    registry,
    deployKeyOverhead: new Histogram({
      name: 'berth_deploy_key_overhead_seconds',
      help: 'Time a deploy spends getting its SSH keys ready, by path (warm cache, cold, fallback).',
      labelNames: ['path'],
      buckets: KEY_SECONDS,
      registers,
    }),
    deployDuration: new Histogram({
      name: 'berth_deploy_duration_seconds',
      help: 'From the start of a deploy’s background work to DigitalOcean accepting (or refusing) the droplet, by key path.',
      labelNames: ['path'],
      buckets: CALL_SECONDS,
      registers,
    }),
    deploys: new Counter({
      name: 'berth_deploys_total',
      help: 'Deploys that reached a result, by outcome (created, failed) and key path.',
      labelNames: ['outcome', 'path'],
      registers,
    }),
    dropletKeyLookups: new Histogram({
      name: 'berth_droplet_key_lookup_seconds',
      help: 'Droplets’ login key lookups (sshd asking berth at a login), by outcome: answered, other_login (a login berth gives no keys), refused (bad or revoked credential), limited (a source turned away after refusals).',
      labelNames: ['outcome'],
      buckets: KEY_SECONDS,
      registers,
    }),
    keyCache: new Counter({
      name: 'berth_ssh_key_cache_requests_total',
      help: 'Deployment key cache lookups, by result (hit_memory, hit_redis, miss).',
      labelNames: ['result'],
      registers,
    }),
    keyListCache: new Counter({
      name: 'berth_ssh_key_list_cache_requests_total',
      help: 'Reads of a user’s key list (GET /api/ssh-keys), by result (hit, miss).',
      labelNames: ['result'],
      registers,
      // Counted in keyListReads and added here when scraped: this runs once per read of
      // the list, where a labelled inc() (hashing its label object) cost more than the
      // cache lookup it counts.
      collect() {
        for (const result of ['hit', 'miss'] as const) {
          if (keyListReads[result] === 0) continue;
          this.inc({ result }, keyListReads[result]);
          keyListReads[result] = 0;
        }
      },
    }),
    keyListReads,
    keyChangeBusListening: new Gauge({
      name: 'berth_key_change_bus_listening',
      help: '1 while this process hears key changes (LISTEN); 0 while it does not, and its key list cache is off.',
      registers,
    }),
    doRequests: new Counter({
      name: 'berth_digitalocean_requests_total',
      help: 'DigitalOcean API requests sent, by endpoint and status (or network, timeout).',
      labelNames: ['endpoint', 'status'],
      registers,
    }),
    doLatency: new Histogram({
      name: 'berth_digitalocean_request_duration_seconds',
      help: 'DigitalOcean API request latency, response body included, by endpoint.',
      labelNames: ['endpoint'],
      buckets: CALL_SECONDS,
      registers,
    }),
    doRateLimited: new Counter({
      name: 'berth_digitalocean_rate_limited_total',
      help: 'DigitalOcean answers 429 (berth overran the rate limit, or shares the token with another client).',
      registers,
    }),
    doRefused: new Counter({
      name: 'berth_digitalocean_refused_total',
      help: 'DigitalOcean requests berth did not send, by reason (circuit_open, budget: no rate budget in time).',
      labelNames: ['reason'],
      registers,
    }),
    doBreakerOpened: new Counter({
      name: 'berth_digitalocean_circuit_opened_total',
      help: 'Times this process’s DigitalOcean circuit breaker opened.',
      registers,
    }),
    jobRuns: new Counter({
      name: 'berth_job_runs_total',
      help: 'Job runs in this process, by queue and outcome (completed, failed: will retry, dead: failed its last retry).',
      labelNames: ['queue', 'outcome'],
      registers,
    }),
    jobDuration: new Histogram({
      name: 'berth_job_duration_seconds',
      help: 'Job run time, by queue and outcome.',
      labelNames: ['queue', 'outcome'],
      buckets: CALL_SECONDS,
      registers,
    }),
    vaultOperations: new Counter({
      name: 'berth_vault_operations_total',
      help: 'Vault operations, by operation (encrypt, decrypt) and outcome (success, failure).',
      labelNames: ['operation', 'outcome'],
      registers,
    }),
    http: new RequestSeries({
      counterName: 'berth_http_requests_total',
      counterHelp: 'HTTP requests, by listener (public, internal), method, route pattern and status.',
      histogramName: 'berth_http_request_duration_seconds',
      histogramHelp: 'HTTP request latency, by listener, method and route pattern.',
      buckets: CALL_SECONDS,
      registry,
    }),
    collectErrors: new Counter({
      name: 'berth_metrics_collect_errors_total',
      help: 'Failures reading a figure at scrape time (the database did not answer), by source.',
      labelNames: ['source'],
      registers,
    }),
  };

  for (const path of KEY_PATHS) metrics.deployKeyOverhead.zero({ path });
  for (const path of DEPLOY_PATHS) {
    for (const outcome of ['created', 'failed']) metrics.deploys.inc({ outcome, path }, 0);
  }
  for (const operation of ['encrypt', 'decrypt']) {
    for (const outcome of ['success', 'failure']) metrics.vaultOperations.inc({ operation, outcome }, 0);
  }
  for (const reason of ['circuit_open', 'budget']) metrics.doRefused.inc({ reason }, 0);
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;
