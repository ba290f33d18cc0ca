/**
 * API throughput: an authenticated `GET /api/ssh-keys` on a running berth (startServer, on
 * PostgreSQL in a throwaway database) under 50 connections, against a bare Hono JSON route
 * served by @hono/node-server in the same process, measured in the same run. The bare
 * route runs before and after berth and the mean of the two is the baseline, so a machine
 * that gets busier during the run does not favour either side. The target is half the bare
 * route's requests per second, and a p99 under 10 ms.
 *
 * The load comes from autocannon's command line in a child process, not from its
 * programmatic API in this one: in this process it would share one event loop with the
 * servers it measures. It still shares the machine's cores with them (and PostgreSQL
 * with berth), which both sides of the ratio pay alike. Every run is preceded by a short
 * warm-up that is not counted, and a run with errors or non-2xx answers is refused
 * rather than reported, since fast failures would inflate the figure.
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
  /** Seconds per measured run. Default 8. */
  seconds?: number;
  /** Seconds of uncounted load before each run. Default 2. */
  warmupSeconds?: number;
  connections?: number;
  databaseUrl?: string;
}

interface LoadResult {
  rps: number;
  p99Ms: number;
}

export async function benchApi(options: ApiBenchOptions = {}): Promise<BenchRow[]> {
  const seconds = options.seconds ?? 8;
  const warmup = options.warmupSeconds ?? 2;
  const connections = options.connections ?? 50;
  const load = async (url: string, headers: Record<string, string> = {}) => {
    await runAutocannon(url, headers, connections, warmup);
    return runAutocannon(url, headers, connections, seconds);
  };

  const bare = await startBareHono();
  const berth = await startBerth(options.databaseUrl ?? benchDatabaseUrl());
  try {
    const token = await signUpWithKeys(berth.url, 3);
    const auth = { authorization: `Bearer ${token}` };
    const bareBefore = await load(bare.url);
    const api = await load(`${berth.url}/api/ssh-keys`, auth);
    const bareAfter = await load(bare.url);
    const baseline = (bareBefore.rps + bareAfter.rps) / 2;
    const baselineName = 'bare Hono JSON route';
    return [
      {
        name: `bare Hono GET / (${connections} conns, mean of 2 runs)`,
        value: baseline,
        unit: 'req/s',
      },
      {
        name: `GET /api/ssh-keys, PostgreSQL (${connections} conns)`,
        value: api.rps,
        unit: 'req/s',
        baseline,
        baselineName,
        target: 'ratio ≥ 0.5',
        pass: api.rps / baseline >= 0.5,
      },
      {
        name: 'GET /api/ssh-keys p99 latency',
        value: api.p99Ms,
        unit: 'ms',
        baseline: (bareBefore.p99Ms + bareAfter.p99Ms) / 2,
        baselineName,
        target: '< 10 ms',
        pass: api.p99Ms < 10,
      },
    ];
  } finally {
    await berth.stop();
    await bare.close();
  }
}

async function startBareHono(): Promise<{ url: string; close(): Promise<void> }> {
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
function runAutocannon(
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
        requests: { average: number };
        latency: { p99: number };
        errors: number;
        timeouts: number;
        non2xx: number;
      };
      if (r.errors || r.timeouts || r.non2xx) {
        return reject(
          new Error(`${url}: ${r.errors} errors, ${r.timeouts} timeouts, ${r.non2xx} non-2xx answers`),
        );
      }
      resolve({ rps: r.requests.average, p99Ms: r.latency.p99 });
    });
  });
}
