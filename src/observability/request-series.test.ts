import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { RequestSeries } from './request-series.ts';

const BUCKETS = [0.001, 0.01, 0.1, 1];
const NAMES = {
  counterName: 'test_http_requests_total',
  counterHelp: 'Requests.',
  histogramName: 'test_http_request_duration_seconds',
  histogramHelp: 'Latency.',
};

type Request = [listener: string, method: string, route: string, status: number, seconds: number];

const REQUESTS: Request[] = [
  ['public', 'GET', '/api/ssh-keys', 200, 0.0004],
  ['public', 'GET', '/api/ssh-keys', 200, 0.001], // on a bound: counted in that bucket
  ['public', 'POST', '/api/ssh-keys', 201, 0.05],
  ['public', 'GET', '/api/ssh-keys', 401, 0.002],
  ['internal', 'GET', '/metrics', 200, 3], // past the last bound: +Inf only
  ['public', 'GET', 'unmatched', 404, 0.0001],
  ['public', 'GET', '/api/ssh-keys', 200, 0.2],
];

/** The same requests through prom-client's own Counter and Histogram, in `registry`. */
function promClientRegistry(requests: Request[], registry = new Registry()): Registry {
  const counter = new Counter({
    name: NAMES.counterName,
    help: NAMES.counterHelp,
    labelNames: ['listener', 'method', 'route', 'status'],
    registers: [registry],
  });
  const histogram = new Histogram({
    name: NAMES.histogramName,
    help: NAMES.histogramHelp,
    labelNames: ['listener', 'method', 'route'],
    buckets: BUCKETS,
    registers: [registry],
  });
  for (const [listener, method, route, status, seconds] of requests) {
    counter.inc({ listener, method, route, status: String(status) });
    histogram.observe({ listener, method, route }, seconds);
  }
  return registry;
}

const promClientExposition = (requests: Request[]) => promClientRegistry(requests).metrics();

/** A registry that speaks OpenMetrics (the typings give the constructor no argument). */
function openMetricsRegistry(): Registry {
  const registry = new Registry<typeof Registry.OPENMETRICS_CONTENT_TYPE>();
  registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  return registry as unknown as Registry;
}

function seriesRegistry(requests: Request[], registry = new Registry()) {
  const series = new RequestSeries({ ...NAMES, buckets: BUCKETS, registry });
  for (const request of requests) series.observe(...request);
  return { registry, series };
}

describe('RequestSeries', () => {
  it("exposes exactly what prom-client's Counter and Histogram expose for the same requests", async () => {
    const { registry } = seriesRegistry(REQUESTS);
    const ours = await registry.metrics();
    expect(ours).toBe(await promClientExposition(REQUESTS));
    expect(ours).toContain(
      'test_http_request_duration_seconds_bucket{le="0.001",listener="public",method="GET",route="/api/ssh-keys"} 2',
    );
    expect(ours).toContain(
      'test_http_requests_total{listener="public",method="GET",route="/api/ssh-keys",status="200"} 3',
    );
  });

  it("exposes what prom-client exposes in OpenMetrics' format too", async () => {
    const exposed = await seriesRegistry(REQUESTS, openMetricsRegistry()).registry.metrics();
    expect(exposed).toBe(await promClientRegistry(REQUESTS, openMetricsRegistry()).metrics());
    expect(exposed).toContain('# TYPE test_http_requests counter');
  });

  it('refuses a duration that is not a finite number, as prom-client does', () => {
    const { series } = seriesRegistry([]);
    expect(() => series.observe('public', 'GET', '/x', 200, Number.NaN)).toThrow(TypeError);
  });

  it('exposes nothing but the headers before the first request, as prom-client does', async () => {
    const { registry } = seriesRegistry([]);
    expect(await registry.metrics()).toBe(await promClientExposition([]));
  });

  it("gives the registry's JSON the labels prom-client gives it", async () => {
    const { registry } = seriesRegistry(REQUESTS);
    const json = await registry.getMetricsAsJSON();
    const reference = await promClientRegistry(REQUESTS).getMetricsAsJSON();
    // prom-client lists a null exemplar on each bucket; berth's metrics have no exemplars.
    const values = (metric: { values: object[] } | undefined) =>
      metric?.values.map((value) => ({ ...value, exemplar: null }));
    const ours = json.find((m) => m.name === NAMES.histogramName);
    const theirs = reference.find((m) => m.name === NAMES.histogramName);
    expect(values(ours)).toEqual(values(theirs));
    // Four routes (statuses merge): each has its buckets, +Inf, a sum and a count.
    expect(values(ours)).toHaveLength(4 * (BUCKETS.length + 3));
  });

  it('starts again from nothing when the registry resets its metrics', async () => {
    const { registry } = seriesRegistry(REQUESTS);
    registry.resetMetrics();
    expect(await registry.metrics()).toBe(await promClientExposition([]));
  });

  it('refuses a second registration of its names in the same registry', () => {
    const registry = new Registry();
    new RequestSeries({ ...NAMES, buckets: BUCKETS, registry });
    expect(() => new RequestSeries({ ...NAMES, buckets: BUCKETS, registry })).toThrow(
      /already been registered/,
    );
  });
});
