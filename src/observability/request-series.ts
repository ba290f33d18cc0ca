/**
 * The two per-request HTTP metrics, `berth_http_requests_total` (by listener, method,
 * route and status) and `berth_http_request_duration_seconds` (by listener, method and
 * route), counted in plain objects and registered with prom-client's registry as metrics
 * of its shape: the registry asks each for its values at scrape time and formats them
 * itself, so the exposition is prom-client's own, line for line (a test compares it with
 * prom-client's Counter and Histogram fed the same requests).
 *
 * Why not prom-client's Counter and Histogram: each call hashes a label object (the
 * label names sorted, the values joined) and a histogram looks its series up again by
 * that hash. Once per request, the two calls cost an authenticated read about a
 * twentieth of its CPU. Here a request costs a Map lookup by route and a bucket search;
 * the work of shaping labels is done once per scrape instead.
 */
import type { Metric, Registry } from 'prom-client';

interface Series {
  readonly listener: string;
  readonly method: string;
  readonly route: string;
  readonly status: number;
  count: number;
  sum: number;
  /** Requests in each bucket alone (not cumulative), one slot per bound, then +Inf. */
  readonly buckets: number[];
}

type Labels = Record<string, string | number>;

/** One line of a metric as prom-client's registry reads it. */
interface MetricValue {
  value: number;
  labels: Labels;
  sharedLabels?: Labels;
  metricName?: string;
}

export interface RequestSeriesOptions {
  counterName: string;
  counterHelp: string;
  histogramName: string;
  histogramHelp: string;
  /** Upper bounds in seconds, ascending. */
  buckets: readonly number[];
  registry: Registry;
}

export class RequestSeries {
  /** Every series, in the order each first appeared (prom-client's order). */
  private readonly series: Series[] = [];
  private readonly byRoute = new Map<string, Series[]>();
  private readonly bounds: readonly number[];

  private readonly options: RequestSeriesOptions;

  constructor(options: RequestSeriesOptions) {
    this.options = options;
    this.bounds = [...options.buckets].sort((a, b) => a - b);
    options.registry.registerMetric(this.counterMetric() as unknown as Metric);
    options.registry.registerMetric(this.histogramMetric() as unknown as Metric);
  }

  /** One answered request. */
  observe(listener: string, method: string, route: string, status: number, seconds: number): void {
    // As prom-client's Histogram refuses it: one such value would make the sum NaN for good.
    if (!Number.isFinite(seconds))
      throw new TypeError(`A request duration must be a finite number: ${seconds}`);
    // Found by route (a route pattern is the same string each time, its hash kept by the
    // engine) and then among that route's few series; a key joined from all four labels
    // would be a new string to hash on every request.
    let list = this.byRoute.get(route);
    if (list === undefined) {
      list = [];
      this.byRoute.set(route, list);
    }
    let series: Series | undefined;
    for (const s of list) {
      if (s.status === status && s.method === method && s.listener === listener) {
        series = s;
        break;
      }
    }
    if (series === undefined) {
      const buckets = new Array<number>(this.bounds.length + 1).fill(0);
      series = { listener, method, route, status, count: 0, sum: 0, buckets };
      list.push(series);
      this.series.push(series);
    }
    series.count++;
    series.sum += seconds;
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && seconds > (bounds[i] as number)) i++;
    (series.buckets[i] as number)++;
  }

  private reset(): void {
    this.series.length = 0;
    this.byRoute.clear();
  }

  private counterMetric() {
    const { counterName: name, counterHelp: help } = this.options;
    const metric = {
      name,
      help,
      type: 'counter',
      aggregator: 'sum',
      // The registry's name, read at scrape time: for OpenMetrics it drops `_total` from
      // a counter's name and adds it back to each sample, as it does for prom-client's.
      get: async () => ({
        name: metric.name,
        help,
        type: 'counter',
        aggregator: 'sum',
        values: this.series.map(
          (s): MetricValue => ({
            value: s.count,
            labels: { listener: s.listener, method: s.method, route: s.route, status: String(s.status) },
          }),
        ),
      }),
      reset: () => this.reset(),
    };
    return metric;
  }

  private histogramMetric() {
    const { histogramName: name, histogramHelp: help } = this.options;
    const shape = { name, help, type: 'histogram', aggregator: 'sum' };
    return {
      ...shape,
      // What the registry formats: `le` as the value's own label and the series' labels
      // shared, as prom-client's Histogram hands them over.
      getForPromString: async () => ({ ...shape, values: this.histogramValues() }),
      get: async () => ({
        ...shape,
        values: this.histogramValues().map(({ labels, sharedLabels, ...value }) => ({
          ...value,
          labels: { ...labels, ...sharedLabels },
        })),
      }),
      reset: () => this.reset(),
    };
  }

  /** The duration series (each route's statuses summed) in prom-client's Histogram order. */
  private histogramValues(): MetricValue[] {
    const merged = new Map<string, { labels: Labels; count: number; sum: number; buckets: number[] }>();
    for (const s of this.series) {
      const key = `${s.listener} ${s.method} ${s.route}`;
      let m = merged.get(key);
      if (m === undefined) {
        const labels = { listener: s.listener, method: s.method, route: s.route };
        m = { labels, count: 0, sum: 0, buckets: new Array<number>(s.buckets.length).fill(0) };
        merged.set(key, m);
      }
      m.count += s.count;
      m.sum += s.sum;
      for (let i = 0; i < s.buckets.length; i++) (m.buckets[i] as number) += s.buckets[i] as number;
    }
    const { histogramName: name } = this.options;
    const values: MetricValue[] = [];
    for (const { labels: sharedLabels, count, sum, buckets } of merged.values()) {
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += buckets[i] as number;
        values.push({ value: cumulative, labels: { le }, sharedLabels, metricName: `${name}_bucket` });
      });
      values.push({ value: count, labels: { le: '+Inf' }, sharedLabels, metricName: `${name}_bucket` });
      values.push({ value: sum, labels: {}, sharedLabels, metricName: `${name}_sum` });
      values.push({ value: count, labels: {}, sharedLabels, metricName: `${name}_count` });
    }
    return values;
  }
}
