/**
 * API throughput: an authenticated `GET /api/ssh-keys` on a running berth (startServer, on
 * PostgreSQL in a throwaway database) under 50 connections, against a bare Hono JSON route
 * served by @hono/node-server in the same process, measured in the same run. The target
 * is half the bare route's requests per second, and a p99 under 10 ms.
 *
 * The two are measured in short alternating slices (2 s each, eight pairs, the order
 * swapped in every other pair) rather than in one long run each: this machine's
 * neighbours come and go within seconds, and a burst that fell on one side's long run
 * decided the ratio (single runs read anywhere from 0.43 to 0.62 in one afternoon). Each
 * pair gives a ratio taken under the same conditions; the figure is the pair with the
 * median ratio, its two rates the figure and baseline printed, and its slice's p99 the
 * latency (the bare slice's the baseline). The keygen benchmark measures the same way.
 * Diagnostics on stderr give every pair's ratio, the whole run's ratio (every request of
 * each side over its time), the worst slice's p99 and every slice's. `BERTH_BENCH_API_AA=1` measures
 * the bare route against itself, to check that the scheme favours neither side.
 *
 * The load comes from autocannon's command line in a child process, not from its
 * programmatic API in this one: in this process it would share one event loop with the
 * servers it measures. It still shares the machine's cores with them (and PostgreSQL
 * with berth), which both sides of the ratio pay alike. Each side is warmed up first,
 * uncounted, and a slice with errors or non-2xx answers is refused rather than reported,
 * since fast failures would inflate the figure.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import pg from 'pg';
import { loadConfig } from '../src/config/config.ts';
import { formatMasterKey, generateMasterKey } from '../src/domain/vault/keyring.ts';
import { startServer } from '../src/main.ts';
import { createLogger } from '../src/observability/logger.ts';
import { benchDatabaseUrl } from './stack.ts';
import type { BenchRow } from './table.ts';

export interface ApiBenchOptions {
  /** Seconds per slice. Default 2. */
  sliceSeconds?: number;
  /** Pairs of slices (one a side). Default 8. */
  pairs?: number;
  /** Seconds of uncounted load on each side first. Default 3. */
  warmupSeconds?: number;
  connections?: number;
  databaseUrl?: string;
  /** Measure the bare route against itself (a check of the scheme). */
  aa?: boolean;
}

export interface LoadResult {
  rps: number;
  p99Ms: number;
  requests: number;
  seconds: number;
}

interface Pair {
  api: LoadResult;
  bare: LoadResult;
}

export async function benchApi(options: ApiBenchOptions = {}): Promise<BenchRow[]> {
  const slice = options.sliceSeconds ?? 2;
  const pairs = options.pairs ?? 8;
  const connections = options.connections ?? 50;
  const aa = options.aa ?? process.env.BERTH_BENCH_API_AA === '1';

  const bare = await startBareHono();
  const berth = await startBerth(options.databaseUrl ?? benchDatabaseUrl());
  try {
    const token = await signUpWithKeys(berth.url, 3);
    const sides = {
      bare: () => runAutocannon(bare.url, {}, connections, slice),
      api: aa
        ? () => runAutocannon(bare.url, {}, connections, slice)
        : () =>
            runAutocannon(
              `${berth.url}/api/ssh-keys`,
              { authorization: `Bearer ${token}` },
              connections,
              slice,
            ),
    };
    await runAutocannon(bare.url, {}, connections, options.warmupSeconds ?? 3);
    await runAutocannon(
      `${berth.url}/api/ssh-keys`,
      { authorization: `Bearer ${token}` },
      connections,
      options.warmupSeconds ?? 3,
    );
    const measured: Pair[] = [];
    for (let i = 0; i < pairs; i++) {
      // Alternating which side goes first, so neither always follows the other.
      if (i % 2 === 0) {
        const b = await sides.bare();
        measured.push({ bare: b, api: await sides.api() });
      } else {
        const a = await sides.api();
        measured.push({ api: a, bare: await sides.bare() });
      }
    }
    const ratio = (p: Pair) => p.api.rps / p.bare.rps;
    const sorted = [...measured].sort((x, y) => ratio(x) - ratio(y));
    const median = sorted[Math.floor((sorted.length - 1) / 2)] as Pair;
    const total = (side: 'api' | 'bare') =>
      measured.reduce((sum, p) => sum + p[side].requests, 0) /
      measured.reduce((sum, p) => sum + p[side].seconds, 0);
    process.stderr.write(
      `api details${aa ? ' (A/A: the bare route on both sides)' : ''}: ${pairs} pairs of ${slice} s slices; ` +
        `pair ratios ${sorted.map((p) => ratio(p).toFixed(3)).join(' ')}; ` +
        `whole run ${Math.round(total('api'))} / ${Math.round(total('bare'))} req/s (ratio ${(total('api') / total('bare')).toFixed(3)}); ` +
        `worst slice p99 ${Math.max(...measured.map((p) => p.api.p99Ms))} ms (bare ${Math.max(...measured.map((p) => p.bare.p99Ms))} ms); ` +
        `slice p99s ${measured.map((p) => p.api.p99Ms).join(' ')} ms (bare ${measured.map((p) => p.bare.p99Ms).join(' ')} ms)\n`,
    );
    const baselineName = 'bare Hono JSON route';
    const figure = aa ? 'bare Hono GET / against itself (A/A)' : 'GET /api/ssh-keys, PostgreSQL';
    return [
      {
        name: `bare Hono GET / (${connections} conns, median pair)`,
        value: median.bare.rps,
        unit: 'req/s',
      },
      {
        name: `${figure} (${connections} conns)`,
        value: median.api.rps,
        unit: 'req/s',
        baseline: median.bare.rps,
        baselineName,
        target: 'ratio ≥ 0.5',
        pass: ratio(median) >= 0.5,
      },
      {
        name: `${aa ? 'A/A' : 'GET /api/ssh-keys'} p99 latency (median pair)`,
        value: median.api.p99Ms,
        unit: 'ms',
        baseline: median.bare.p99Ms,
        baselineName,
        target: '< 10 ms',
        pass: median.api.p99Ms < 10,
      },
    ];
  } finally {
    await berth.stop();
    await bare.close();
  }
}

export async function startBareHono(): Promise<{ url: string; close(): Promise<void> }> {
  const app = new Hono();
  app.get('/', (c) => c.json({ ok: true }));
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** berth as `berth serve` runs it, on a database of its own that stop() drops. */
async function startBerth(adminUrl: string): Promise<{ url: string; stop(): Promise<void> }> {
  const name = `berth_bench_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const dbUrl = new URL(adminUrl);
  dbUrl.pathname = `/${name}`;
  const dataDir = await mkdtemp(join(tmpdir(), 'berth-bench-api-'));
  const drop = async () => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    await client.query(`drop database if exists ${name} with (force)`);
    await client.end();
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const config = loadConfig({
      DATABASE_URL: dbUrl.toString(),
      BERTH_MASTER_KEYS: formatMasterKey(generateMasterKey('k1')),
      BERTH_JWT_SECRET: randomBytes(32).toString('hex'),
      BERTH_JWT_ISSUER: 'http://berth.bench/auth/v1',
      PORT: '0',
      HOST: '127.0.0.1',
      BERTH_LOG_LEVEL: 'warn',
      BERTH_EMULATOR_SSH_PORT: '0',
      // Sign-up and key generation are limited; the GET measured here is not, but the
      // setup below would be.
      BERTH_RATE_LIMIT_USER_PER_MINUTE: '0',
      BERTH_RATE_LIMIT_IP_PER_MINUTE: '0',
      BERTH_DATA_DIR: dataDir,
    });
    const running = await startServer(config, createLogger({ level: config.logLevel }));
    return {
      url: running.url.replace(/\/+$/, ''),
      async stop() {
        await running.stop();
        await drop();
      },
    };
  } catch (error) {
    await drop();
    throw error;
  }
}

/** Signs a user up through the embedded identity provider and gives them `keys` keys. */
async function signUpWithKeys(baseUrl: string, keys: number): Promise<string> {
  const signup = await fetch(`${baseUrl}/auth/v1/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'bench@example.test', password: randomBytes(12).toString('hex') }),
  });
  if (!signup.ok) throw new Error(`sign-up failed: ${signup.status} ${await signup.text()}`);
  const { access_token: token } = (await signup.json()) as { access_token: string };
  for (let i = 0; i < keys; i++) {
    const created = await fetch(`${baseUrl}/api/ssh-keys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ name: `bench-${i}` }),
    });
    if (created.status !== 201) throw new Error(`key creation failed: ${created.status}`);
  }
  return token;
}

/** One autocannon run in a child process; its JSON summary, checked for failures. */
export function runAutocannon(
  url: string,
  headers: Record<string, string>,
  connections: number,
  seconds: number,
): Promise<LoadResult> {
  const cli = createRequire(import.meta.url).resolve('autocannon');
  const args = [cli, '-j', '-c', String(connections), '-d', String(seconds)];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}=${v}`);
  args.push(url);
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { maxBuffer: 16 * 2 ** 20 }, (error, stdout) => {
      if (error) return reject(error);
      const r = JSON.parse(stdout) as {
        requests: { average: number; total: number };
        latency: { p99: number };
        duration: number;
        errors: number;
        timeouts: number;
        non2xx: number;
      };
      if (r.errors || r.timeouts || r.non2xx) {
        return reject(
          new Error(`${url}: ${r.errors} errors, ${r.timeouts} timeouts, ${r.non2xx} non-2xx answers`),
        );
      }
      resolve({
        rps: r.requests.average,
        p99Ms: r.latency.p99,
        requests: r.requests.total,
        seconds: r.duration,
      });
    });
  });
}
