/**
 * A whole berth (`startServer`, as `berth serve` runs it) whose log lines are kept in
 * memory, against an emulated DigitalOcean reached over HTTP with a known token, plus a
 * small client for its public API. For tests that run berth's flows and then read what
 * berth wrote: its logs and its metrics. Both engines: PGlite in a temporary data
 * directory (master key and signing secret generated there), or a PostgreSQL database
 * of the test's own with the keys given in the environment.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config/config.ts';
import { createEmulator, type Emulator } from '../../src/digitalocean/emulator/index.ts';
import { generateKeyPair } from '../../src/domain/sshkeys/generate.ts';
import { formatMasterKey, generateMasterKey } from '../../src/domain/vault/keyring.ts';
import { type RunningBerth, startServer } from '../../src/main.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createServerDatabase, type EngineName } from '../support/db.ts';

export interface Answer {
  status: number;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON answers.
  json: any;
}

export interface LoggedBerth {
  berth: RunningBerth;
  emulator: Emulator;
  /** Every line berth logged, as written. */
  lines: string[];
  /** The operator's secrets this berth was given or generated: none may be logged. */
  operatorSecrets: { name: string; value: string }[];
  internalSecret: string;
  metricsToken: string;
  fallbackKeyId: number;
  api(method: string, path: string, options?: { token?: string; body?: unknown }): Promise<Answer>;
  scrape(): Promise<string>;
  stop(): Promise<void>;
}

export const DO_TOKEN = `dop_v1_${randomBytes(32).toString('hex')}`;

function memoryDestination(lines: string[]) {
  return new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(line);
      done();
    },
  });
}

/** The base64 of each `id:base64` entry in a keyring text (env value or master.keys file). */
function keyringSecrets(text: string): string[] {
  return text
    .split(/[\n,]/)
    .map((entry) => entry.trim())
    .filter((entry) => entry && !entry.startsWith('#'))
    .map((entry) => entry.slice(entry.indexOf(':') + 1));
}

/** `internal: false` starts no internal listener (no BERTH_INTERNAL_API_SECRET). */
export async function startLoggedBerth(
  engine: EngineName,
  options: { internal?: boolean } = {},
): Promise<LoggedBerth> {
  const emulator = createEmulator({
    token: DO_TOKEN,
    activeAfterMs: 100,
    sshPort: 0,
    ssh: { enabled: false },
  });
  const emulatorUrl = (await emulator.listen(0, '127.0.0.1')).url;
  const created = await fetch(`${emulatorUrl}/v2/account/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${DO_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      name: 'operator',
      public_key: generateKeyPair({ comment: 'operator' }).publicKey,
    }),
  });
  const fallbackKeyId = ((await created.json()) as { ssh_key: { id: number } }).ssh_key.id;
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-logs-'));
  const internalSecret = randomBytes(32).toString('hex');
  const metricsToken = randomBytes(32).toString('hex');
  const env: Record<string, string> = {
    PORT: '0',
    HOST: '127.0.0.1',
    INTERNAL_PORT: '0',
    BERTH_DATA_DIR: dataDir,
    BERTH_LOG_LEVEL: 'debug',
    BERTH_INTERNAL_API_SECRET: internalSecret,
    BERTH_METRICS_TOKEN: metricsToken,
    DIGITALOCEAN_TOKEN: DO_TOKEN,
    DIGITALOCEAN_API_URL: emulatorUrl,
    BERTH_FALLBACK_SSH_KEY_IDS: String(fallbackKeyId),
  };
  if (options.internal === false) delete env.BERTH_INTERNAL_API_SECRET;
  let drop = async () => {};
  if (engine === 'postgres') {
    const database = await createServerDatabase();
    drop = database.drop;
    env.DATABASE_URL = database.url;
    env.BERTH_MASTER_KEYS = formatMasterKey(generateMasterKey('k1'));
    env.BERTH_JWT_SECRET = randomBytes(32).toString('hex');
  }
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: memoryDestination(lines) });
  const berth = await startServer(loadConfig(env), logger);
  const masterKeys = env.BERTH_MASTER_KEYS ?? readFileSync(join(dataDir, 'master.keys'), 'utf8');
  const jwtSecret = env.BERTH_JWT_SECRET ?? readFileSync(join(dataDir, 'jwt.secret'), 'utf8').trim();
  const operatorSecrets = [
    { name: 'DigitalOcean token', value: DO_TOKEN },
    { name: 'internal API secret', value: internalSecret },
    { name: 'metrics token', value: metricsToken },
    { name: 'token signing secret', value: jwtSecret },
    ...keyringSecrets(masterKeys).map((value) => ({ name: 'master key', value })),
  ];

  return {
    berth,
    emulator,
    lines,
    operatorSecrets,
    internalSecret,
    metricsToken,
    fallbackKeyId,
    async api(method, path, options = {}) {
      const headers: Record<string, string> = {};
      if (options.token) headers.authorization = `Bearer ${options.token}`;
      if (options.body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(`${berth.url}${path}`, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
      });
      const text = await res.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: res.status, text, json };
    },
    async scrape() {
      const res = await fetch(`${berth.internalUrl ?? berth.url}/metrics`, {
        headers: { authorization: `Bearer ${metricsToken}` },
      });
      if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`);
      return res.text();
    },
    async stop() {
      await berth.stop();
      await emulator.close();
      await drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The value of one sample in a Prometheus text exposition, or undefined. */
export function sampleValue(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const ok = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (ok) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}
