/**
 * The alerting rules shipped in ops/prometheus: valid for Prometheus (`promtool check
 * rules`), behaving as their unit tests say (`promtool test rules`), and reading only
 * metrics berth exposes. promtool comes from Debian's `prometheus` package, which CI
 * installs; without it this test fails rather than skipping.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { exposedNames, metricNames } from './promql.ts';

const dir = fileURLToPath(new URL('../../ops/prometheus/', import.meta.url));

function promtool(...args: string[]): { status: number | null; output: string } {
  const result = spawnSync('promtool', args, { cwd: dir, encoding: 'utf8' });
  if (result.error) {
    throw new Error(
      `promtool is not installed (${result.error.message}): apt-get install prometheus (Debian ships promtool in it)`,
    );
  }
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('the Prometheus alerting rules', () => {
  it('pass promtool check rules', () => {
    const { status, output } = promtool('check', 'rules', 'berth-rules.yml');
    expect(output).toContain('SUCCESS');
    expect(status, output).toBe(0);
  });

  it('pass their promtool unit tests', () => {
    const { status, output } = promtool('test', 'rules', 'berth-rules.test.yml');
    expect(status, output).toBe(0);
    expect(output).toContain('SUCCESS');
  });

  it('cover every alert the issue asks for, each with a severity and a runbook in the operator guide', () => {
    const text = readFileSync(`${dir}berth-rules.yml`, 'utf8');
    const alerts = [...text.matchAll(/^\s+- alert: (\w+)$/gm)].map((m) => m[1] as string);
    for (const required of [
      'BerthDeploysFailing',
      'BerthFallbackKeysInUse',
      'BerthDigitalOceanRateLimited',
      'BerthDigitalOceanBudgetNearlySpent',
      'BerthDigitalOceanCircuitOpen',
      'BerthJobsDeadLettered',
      'BerthVaultDecryptionFailures',
      'BerthDeployKeyOverheadHigh',
    ]) {
      expect(alerts).toContain(required);
    }
    const guide = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
    for (const alert of alerts) {
      expect(text).toContain(`runbook_url: "docs/operations.md#${alert.toLowerCase()}"`);
      expect(guide, `docs/operations.md has no runbook heading for ${alert}`).toMatch(
        new RegExp(`^### ${alert}$`, 'm'),
      );
    }
    const tests = readFileSync(`${dir}berth-rules.test.yml`, 'utf8');
    for (const alert of alerts) expect(tests, `${alert} has no unit test`).toContain(`alertname: ${alert}`);
  });

  it('read only metrics berth exposes', async () => {
    const exposed = await exposedNames();
    const text = readFileSync(`${dir}berth-rules.yml`, 'utf8');
    const exprs = [...text.matchAll(/expr: \|\n((?:\s{10}.*\n)+)|expr: (.+)\n/g)].map(
      (m) => (m[1] ?? m[2]) as string,
    );
    expect(exprs.length).toBeGreaterThanOrEqual(8);
    for (const expr of exprs) {
      for (const name of metricNames(expr)) {
        expect(exposed.has(name), `${name} in ${expr.trim()}`).toBe(true);
      }
    }
  });
});
