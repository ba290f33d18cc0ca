/**
 * The Grafana dashboard (ops/grafana/berth-dashboard.json) is a valid dashboard model
 * whose every panel reads metrics berth exposes.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { exposedNames, metricNames } from './promql.ts';

interface Target {
  refId: string;
  expr: string;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: Target[];
}

const dashboard = JSON.parse(
  readFileSync(new URL('../../ops/grafana/berth-dashboard.json', import.meta.url), 'utf8'),
) as {
  title: string;
  uid: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string }[] };
};

/** Grafana's reference to the dashboard's data source variable (spelt so no linter takes it for a template). */
const DATASOURCE = ['$', '{datasource}'].join('');

describe('the Grafana dashboard', () => {
  it('is a dashboard model Grafana imports: title, uid, schema version, panels with unique ids inside the grid', () => {
    expect(dashboard.title).toBe('berth');
    expect(dashboard.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of dashboard.panels) {
      expect(['row', 'timeseries', 'stat']).toContain(panel.type);
      expect(panel.gridPos.x + panel.gridPos.w).toBeLessThanOrEqual(24);
      expect(panel.gridPos.h).toBeGreaterThan(0);
    }
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(['datasource', 'instance']);
  });

  it('asks Prometheus through the chosen data source in every panel, with a query for each', () => {
    const graphs = dashboard.panels.filter((p) => p.type !== 'row');
    expect(graphs.length).toBeGreaterThan(20);
    for (const panel of graphs) {
      expect(panel.datasource, panel.title).toEqual({ type: 'prometheus', uid: DATASOURCE });
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      const refIds = panel.targets?.map((t) => t.refId) ?? [];
      expect(new Set(refIds).size, panel.title).toBe(refIds.length);
    }
  });

  it('reads only metrics that berth exposes', async () => {
    const exposed = await exposedNames();
    const used = new Set<string>();
    for (const panel of dashboard.panels) {
      for (const target of panel.targets ?? []) {
        const names = metricNames(target.expr);
        expect(names.length, `${panel.title}: ${target.expr}`).toBeGreaterThan(0);
        for (const name of names) {
          expect(exposed.has(name), `${panel.title} reads ${name}, which berth does not expose`).toBe(true);
          used.add(name);
        }
      }
    }
    // The figures the issue asks for are all on it.
    for (const name of [
      'berth_deploy_key_overhead_seconds_bucket',
      'berth_deploy_duration_seconds_bucket',
      'berth_ssh_key_cache_requests_total',
      'berth_digitalocean_requests_total',
      'berth_digitalocean_request_duration_seconds_bucket',
      'berth_digitalocean_rate_budget_remaining',
      'berth_digitalocean_circuit_state',
      'berth_jobs',
      'berth_job_runs_total',
      'berth_job_duration_seconds_bucket',
      'berth_onboarding_users',
      'berth_vault_operations_total',
      'berth_http_requests_total',
      'process_cpu_seconds_total',
    ]) {
      expect(used, name).toContain(name);
    }
  });
});

describe('reading PromQL', () => {
  it('finds metric names, not functions, keywords, labels or durations', () => {
    expect(
      metricNames(
        'histogram_quantile(0.99, sum by (le, path) (rate(berth_x_bucket{path="warm",instance=~"$instance"}[5m]))) > 0.001 and sum(rate(berth_x_count[10m])) > 0 or up == 0',
      ).sort(),
    ).toEqual(['berth_x_bucket', 'berth_x_count', 'up']);
  });
});
