/**
 * The operator's documents keep up with the code: every environment variable berth reads
 * is in docs/configuration.md, and the operator's guide, linked from the README, covers
 * what an operator must be able to do.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

describe('the operator documents', () => {
  it('list every environment variable berth reads in docs/configuration.md', () => {
    const source = read('src/config/config.ts');
    const schema = source.slice(source.indexOf('const schema = z.object({'), source.indexOf('});'));
    const variables = [...schema.matchAll(/^ {2}([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1] as string);
    expect(variables.length).toBeGreaterThan(30);
    expect(variables).toContain('BERTH_METRICS_TOKEN');
    const documented = read('docs/configuration.md');
    const missing = variables.filter((name) => !documented.includes(`\`${name}\``));
    expect(missing, 'variables missing from docs/configuration.md').toEqual([]);
  });

  it('link the operator’s guide from the README, and the guide covers deploying, keys, recovery and upgrades', () => {
    expect(read('README.md')).toContain('(docs/operations.md)');
    const guide = read('docs/operations.md');
    for (const heading of [
      '## Deploying on PostgreSQL or Supabase',
      '## Configuration',
      '## Master keys and their rotation',
      '## The DigitalOcean token',
      '## The reconciler',
      '## Background jobs and the dead-letter list',
      '## Upgrading',
      '## Backup and restore',
      '## Metrics',
      '## Logs',
      '## Runbooks',
    ]) {
      expect(guide).toContain(`\n${heading}\n`);
    }
    for (const command of [
      'berth vault new-key',
      'berth vault rotate',
      'berth vault set-digitalocean-token',
    ]) {
      expect(guide).toContain(command);
    }
    for (const command of ['berth reconcile', 'berth jobs failed', 'berth jobs retry', 'berth migrate']) {
      expect(guide).toContain(command);
    }
  });
});
