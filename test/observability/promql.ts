/**
 * Reading PromQL for the tests of the alert rules and the dashboard: which metric names
 * an expression uses, and whether berth's registry has each one, so a renamed metric
 * breaks a test instead of silently blanking a panel or an alert.
 */
import { createMetrics } from '../../src/observability/metrics.ts';
import { registerScrapeGauges } from '../../src/observability/scrape.ts';

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring']);
const GROUPING = /\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g;

/** The metric names an expression selects (functions, keywords and labels left out). */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/\{[^}]*\}/g, '{}')
    .replace(GROUPING, ' ')
    .replace(/\[[^\]]*\]/g, '[]');
  const names = new Set<string>();
  for (const match of bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*(?![a-zA-Z0-9_:])(\s*\()?/g)) {
    const [text, call] = match;
    const name = text.replace(/\s*\($/, '');
    if (call || KEYWORDS.has(name) || /^\d/.test(name)) continue;
    // Numbers such as 1e3 and Inf are not names either.
    if (/^(?:Inf|NaN|e\d*)$/i.test(name)) continue;
    names.add(name);
  }
  return [...names];
}

/** Every series name berth's registry exposes, histogram suffixes included; `up` is Prometheus's. */
export async function exposedNames(): Promise<Set<string>> {
  const metrics = createMetrics();
  registerScrapeGauges(metrics.registry, {}, { onError: () => {} });
  const names = new Set(['up']);
  for (const metric of await metrics.registry.getMetricsAsJSON()) {
    names.add(metric.name);
    if (String(metric.type) === 'histogram') {
      for (const suffix of ['_bucket', '_count', '_sum']) names.add(`${metric.name}${suffix}`);
    }
  }
  return names;
}
