/**
 * The droplet key lookup: what sshd's login check on a droplet asks berth at every
 * login, `GET /droplet/v1/authorized-keys` with the droplet's credential, served by a
 * running berth (startServer, on PostgreSQL in a throwaway database, with the droplet
 * API on), against a bare Hono JSON route in the same process, measured in the same run
 * and the same alternating slices as the API benchmark (api.ts), 50 connections. Target:
 * half the bare route's rate, p99 under 5 ms.
 *
 * Then revocation over two processes: two berths on the same database and the same
 * DigitalOcean (an emulator in this process); 1,000 rounds of importing a key through
 * one, reading the droplet's answer through the other (so its caches hold the key),
 * deleting the key through the first and asking the second again at once. Target: no
 * answer after a DELETE has returned carries the deleted key. These rounds are at the
 * API level: a real ssh login per round (about a second each on a real-host droplet) is
 * what login-check.test.ts does, a few times, against real sshd.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { parse } from 'yaml';
import { loadConfig } from '../src/config/config.ts';
import { createEmulator } from '../src/digitalocean/emulator/index.ts';
import { AUTHORIZED_KEYS_PATH, LOGIN_CHECK_CREDENTIAL } from '../src/domain/environments/login-check.ts';
import { generateKeyPair } from '../src/domain/sshkeys/generate.ts';
import { formatMasterKey, generateMasterKey } from '../src/domain/vault/keyring.ts';
import { startServer } from '../src/main.ts';
import { createLogger } from '../src/observability/logger.ts';
import { type LoadResult, runAutocannon, startBareHono } from './api.ts';
import { benchDatabaseUrl } from './stack.ts';
import type { BenchRow } from './table.ts';

const TOKEN = `bench-${randomBytes(8).toString('hex')}`;

export async function benchDropletKeys(
  options: { pairs?: number; sliceSeconds?: number; rounds?: number } = {},
): Promise<BenchRow[]> {
  const pairs = options.pairs ?? 8;
  const slice = options.sliceSeconds ?? 2;
  const rounds = options.rounds ?? 1000;
  const emulator = createEmulator({ token: TOKEN, activeAfterMs: 100, sshPort: 0, hosts: 'light' });
  const emulatorUrl = (await emulator.listen(0, '127.0.0.1')).url;
  const db = await createDatabase(benchDatabaseUrl());
  const dataDir = await mkdtemp(join(tmpdir(), 'berth-bench-droplet-'));
  const stops: (() => Promise<void>)[] = [];
  const bare = await startBareHono();
  stops.push(() => bare.close());
  try {
    const start = async () => {
      const port = await freePort();
      const config = loadConfig({
        DATABASE_URL: db.url,
        BERTH_MASTER_KEYS: db.masterKeys,
        BERTH_JWT_SECRET: db.jwtSecret,
        BERTH_JWT_ISSUER: 'http://berth.bench/auth/v1',
        PORT: '0',
        HOST: '127.0.0.1',
        BERTH_LOG_LEVEL: 'warn',
        DIGITALOCEAN_TOKEN: TOKEN,
        DIGITALOCEAN_API_URL: emulatorUrl,
        BERTH_DROPLET_API_URL: `http://127.0.0.1:${port}`,
        BERTH_DROPLET_API_PORT: String(port),
        BERTH_RATE_LIMIT_USER_PER_MINUTE: '0',
        BERTH_RATE_LIMIT_IP_PER_MINUTE: '0',
        BERTH_DATA_DIR: dataDir,
      });
      const running = await startServer(config, createLogger({ level: config.logLevel }));
      stops.push(() => running.stop());
      return { api: running.url.replace(/\/+$/, ''), droplet: `http://127.0.0.1:${port}` };
    };
    const a = await start();
    const b = await start();
    const { token, credential } = await deployOne(a.api, emulator);
    const lookupUrl = `${b.droplet}${AUTHORIZED_KEYS_PATH}?user=agent`;
    const headers = { authorization: `Bearer ${credential}` };
    await runAutocannon(bare.url, {}, 50, 3);
    await runAutocannon(lookupUrl, headers, 50, 3);
    const measured: { lookup: LoadResult; bare: LoadResult }[] = [];
    for (let i = 0; i < pairs; i++) {
      const first = i % 2 === 0 ? 'bare' : 'lookup';
      const one = await runAutocannon(
        first === 'bare' ? bare.url : lookupUrl,
        first === 'bare' ? {} : headers,
        50,
        slice,
      );
      const two = await runAutocannon(
        first === 'bare' ? lookupUrl : bare.url,
        first === 'bare' ? headers : {},
        50,
        slice,
      );
      measured.push(first === 'bare' ? { bare: one, lookup: two } : { lookup: one, bare: two });
    }
    const ratio = (p: (typeof measured)[number]) => p.lookup.rps / p.bare.rps;
    const sorted = [...measured].sort((x, y) => ratio(x) - ratio(y));
    const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
    process.stderr.write(
      `droplet-keys details: pair ratios ${sorted.map((p) => ratio(p).toFixed(3)).join(' ')}; slice p99s ${measured.map((p) => p.lookup.p99Ms).join(' ')} ms (bare ${measured.map((p) => p.bare.p99Ms).join(' ')} ms)\n`,
    );

    // Revocation over two processes: import through A, read through B, delete through A, ask B.
    let accepted = 0;
    const begun = performance.now();
    for (let i = 0; i < rounds; i++) {
      const pair = generateKeyPair({ comment: `round-${i}` });
      const body = pair.publicKey.split(' ')[1]!;
      const imported = await api(a.api, token, 'POST', '/api/ssh-keys/import', {
        name: `round ${i}`,
        public_key: pair.publicKey,
      });
      const id = (imported as { key: { id: string } }).key.id;
      if (!(await lookupBody(lookupUrl, credential)).includes(body))
        throw new Error('an imported key was not answered');
      await api(a.api, token, 'DELETE', `/api/ssh-keys/${id}`);
      if ((await lookupBody(lookupUrl, credential)).includes(body)) accepted++;
    }
    const roundMs = (performance.now() - begun) / rounds;
    return [
      { name: 'bare Hono GET / (50 conns, median pair)', value: median.bare.rps, unit: 'req/s' },
      {
        name: 'droplet key lookup, other process than the deploy’s, PostgreSQL (50 conns)',
        value: median.lookup.rps,
        unit: 'req/s',
        baseline: median.bare.rps,
        baselineName: 'bare Hono JSON route',
        target: 'ratio ≥ 0.5',
        pass: ratio(median) >= 0.5,
      },
      {
        name: 'droplet key lookup p99 latency (median pair)',
        value: median.lookup.p99Ms,
        unit: 'ms',
        baseline: median.bare.p99Ms,
        baselineName: 'bare Hono JSON route',
        target: '< 5 ms',
        pass: median.lookup.p99Ms < 5,
      },
      {
        name: `deleted key answered after its DELETE, ${rounds} rounds over two processes (API level, ${roundMs.toFixed(1)} ms a round)`,
        value: accepted,
        unit: 'answers',
        target: '= 0',
        pass: accepted === 0,
      },
    ];
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    await emulator.close();
    await db.drop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** Signs a user up, deploys an agent's droplet and reads its credential from the user_data. */
async function deployOne(baseUrl: string, emulator: ReturnType<typeof createEmulator>) {
  const signup = await fetch(`${baseUrl}/auth/v1/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'bench-droplet@example.test', password: randomBytes(12).toString('hex') }),
  });
  if (!signup.ok) throw new Error(`sign-up failed: ${signup.status}`);
  const { access_token: token } = (await signup.json()) as { access_token: string };
  for (let i = 0; i < 3; i++) await api(baseUrl, token, 'POST', '/api/ssh-keys', { name: `bench-${i}` });
  const { agent } = (await api(baseUrl, token, 'POST', '/api/agents', { name: 'bench' })) as {
    agent: { id: string };
  };
  await api(baseUrl, token, 'POST', `/api/agents/${agent.id}/tool-environment`);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { environment } = (await api(
      baseUrl,
      token,
      'GET',
      `/api/agents/${agent.id}/tool-environment`,
    )) as {
      environment: { status: string; droplet_id: number | null };
    };
    if (environment.status === 'active' && environment.droplet_id) {
      const userData = emulator.state.droplets.get(environment.droplet_id)?.userData ?? '';
      const files = (parse(userData) as { write_files: { path: string; content: string }[] }).write_files;
      const line = files.find((f) => f.path === LOGIN_CHECK_CREDENTIAL)?.content ?? '';
      const credential = /^Authorization: Bearer (\S+)$/m.exec(line)?.[1];
      if (!credential) throw new Error('the droplet’s user_data carries no credential');
      return { token, credential };
    }
    if (Date.now() > deadline) throw new Error(`the deploy did not become active (${environment.status})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function api(baseUrl: string, token: string, method: string, path: string, body?: unknown) {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return response.status === 204 ? null : ((await response.json()) as unknown);
}

async function lookupBody(url: string, credential: string): Promise<string> {
  const response = await fetch(url, { headers: { authorization: `Bearer ${credential}` } });
  if (response.status !== 200) throw new Error(`lookup: ${response.status}`);
  return response.text();
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function createDatabase(adminUrl: string) {
  const name = `berth_bench_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    masterKeys: formatMasterKey(generateMasterKey('k1')),
    jwtSecret: createHash('sha256').update(randomBytes(32)).digest('hex'),
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      await client.query(`drop database if exists ${name} with (force)`);
      await client.end();
    },
  };
}
