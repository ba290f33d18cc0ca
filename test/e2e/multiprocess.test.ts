/**
 * Several berth processes over one PostgreSQL, as berth scales out: real `berth serve`
 * processes sharing a database and a DigitalOcean (the emulator, reached over HTTP).
 * Deploys of one agent spread over two processes make one droplet; a key deleted through
 * one process is never used by a deploy that another process starts afterwards; and a
 * berth killed with SIGKILL in the middle of deploys leaves, after a restart and its
 * start-up reconcile, no orphaned and no duplicate droplet.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEPLOY_TAG_PREFIX } from '../../src/digitalocean/client/deploy-tag.ts';
import { createEmulator, type Emulator } from '../../src/digitalocean/emulator/index.ts';
import { formatMasterKey, generateMasterKey } from '../../src/domain/vault/keyring.ts';
import { type BerthProcess, spawnBerth } from '../support/berth-process.ts';
import { createServerDatabase } from '../support/db.ts';
import { eventually } from '../support/environments.ts';

const serverUrl = process.env.TEST_DATABASE_URL;
if (!serverUrl && process.env.CI) throw new Error('TEST_DATABASE_URL must be set in CI');

const TOKEN = 'multi-process-do-token';
const JWT_SECRET = randomBytes(32).toString('hex');
const INTERNAL_SECRET = randomBytes(32).toString('hex');
const ISSUER = 'berth-multiprocess-test';

interface Env {
  id: string;
  status: string;
  droplet_id: number | null;
  ssh_key_fingerprints: string[];
}

describe.runIf(serverUrl)('berth processes sharing one PostgreSQL', { timeout: 180_000 }, () => {
  let emulator: Emulator;
  let emulatorUrl: string;
  let database: { url: string; drop(): Promise<void> };
  let dataDir: string;
  const processes: BerthProcess[] = [];
  let env: Record<string, string>;

  beforeAll(async () => {
    emulator = createEmulator({ token: TOKEN, activeAfterMs: 300, sshPort: 0 });
    emulatorUrl = (await emulator.listen(0)).url;
    database = await createServerDatabase();
    dataDir = mkdtempSync(join(tmpdir(), 'berth-mp-'));
    env = {
      DATABASE_URL: database.url,
      BERTH_DATA_DIR: dataDir,
      BERTH_MASTER_KEYS: formatMasterKey(generateMasterKey('k1')),
      BERTH_JWT_SECRET: JWT_SECRET,
      BERTH_JWT_ISSUER: ISSUER,
      BERTH_INTERNAL_API_SECRET: INTERNAL_SECRET,
      DIGITALOCEAN_TOKEN: TOKEN,
      DIGITALOCEAN_API_URL: emulatorUrl,
      BERTH_RECONCILE_LEASE_MS: '1000',
      BERTH_LOG_LEVEL: 'info',
    };
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await emulator?.close();
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function start(): Promise<BerthProcess> {
    const p = await spawnBerth(env);
    processes.push(p);
    return p;
  }

  const tokenFor = (userId: string) =>
    new SignJWT({ role: 'authenticated' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(userId)
      .setAudience('authenticated')
      .setIssuer(ISSUER)
      .setExpirationTime('10m')
      .sign(new TextEncoder().encode(JWT_SECRET));

  async function api(p: BerthProcess, userId: string, method: string, path: string, body?: unknown) {
    const response = await fetch(`${p.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${await tokenFor(userId)}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: response.status === 204 ? null : await response.json() };
  }

  async function internal(p: BerthProcess, method: string, path: string, body?: unknown) {
    const response = await fetch(`${p.internalUrl}${path}`, {
      method,
      headers: { 'x-internal-api-secret': INTERNAL_SECRET, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as { environment: Env } };
  }

  async function newUserWithAgent(p: BerthProcess, agentName = 'agent') {
    const userId = randomUUID();
    const onboard = await fetch(`${p.internalUrl}/internal/users/${userId}/onboard`, {
      method: 'POST',
      headers: { 'x-internal-api-secret': INTERNAL_SECRET, 'content-type': 'application/json' },
      body: JSON.stringify({}),
    });
    expect(onboard.status).toBe(202);
    const created = await api(p, userId, 'POST', '/api/agents', { name: agentName });
    expect(created.status).toBe(201);
    return { userId, agentId: (created.body as { agent: { id: string } }).agent.id };
  }

  const activeEnv = (p: BerthProcess, agentId: string, userId: string) =>
    eventually(async () => {
      const r = await internal(p, 'GET', `/internal/agents/${agentId}/tool-environment?userId=${userId}`);
      return r.status === 200 && r.body.environment.status === 'active' ? r.body.environment : null;
    }, 60_000);

  it('makes one droplet for 50 concurrent deploys of one agent split over two processes', async () => {
    const a = await start();
    const b = await start();
    const { userId, agentId } = await newUserWithAgent(a);
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        internal(i % 2 ? a : b, 'POST', `/internal/agents/${agentId}/ensure-tool-environment`, { userId }),
      ),
    );
    expect(answers.every((r) => r.status === 202)).toBe(true);
    expect(new Set(answers.map((r) => r.body.environment.id)).size).toBe(1);
    await activeEnv(b, agentId, userId);
    expect(
      [...emulator.state.droplets.values()].filter((d) => d.tags.includes(`agent:${agentId}`)),
    ).toHaveLength(1);
  });

  it('never uses a key deleted through one process for a deploy another process starts afterwards', async () => {
    const [a, b] = processes as [BerthProcess, BerthProcess];
    const { userId, agentId } = await newUserWithAgent(a, 'first');
    await internal(b, 'POST', `/internal/agents/${agentId}/ensure-tool-environment`, { userId });
    const first = await activeEnv(b, agentId, userId);
    const keys = (await api(a, userId, 'GET', '/api/ssh-keys')).body as {
      keys: { id: string; fingerprint_md5: string }[];
    };
    expect(first.ssh_key_fingerprints).toEqual([keys.keys[0]!.fingerprint_md5]);
    expect((await api(a, userId, 'DELETE', `/api/ssh-keys/${keys.keys[0]!.id}`)).status).toBe(204);
    const second = (await api(a, userId, 'POST', '/api/agents', { name: 'second' })).body as {
      agent: { id: string };
    };
    await internal(b, 'POST', `/internal/agents/${second.agent.id}/ensure-tool-environment`, { userId });
    const env2 = await activeEnv(b, second.agent.id, userId);
    expect(env2.ssh_key_fingerprints).toHaveLength(1);
    expect(env2.ssh_key_fingerprints).not.toContain(keys.keys[0]!.fingerprint_md5);
  });

  it('leaves no orphaned and no duplicate droplet after a SIGKILL mid-deploy, a restart and one reconcile', async () => {
    await Promise.all(processes.splice(0).map((p) => p.stop()));
    const victim = await start();
    const agents: { userId: string; agentId: string }[] = [];
    for (let i = 0; i < 8; i++) agents.push(await newUserWithAgent(victim, `crash-${i}`));
    // Deploys start a few milliseconds apart, so the kill lands on each at another step:
    // recorded only, keys being made ready, create in flight, droplet being followed.
    const deploys = agents.map(({ userId, agentId }, i) =>
      new Promise((r) => setTimeout(r, i * 25)).then(() =>
        internal(victim, 'POST', `/internal/agents/${agentId}/ensure-tool-environment`, { userId }).catch(
          () => null,
        ),
      ),
    );
    // Kill once the first deploy has been answered (so at least one is recorded), while
    // the others are at their various steps.
    await Promise.race(deploys);
    await new Promise((r) => setTimeout(r, 40));
    await victim.kill();
    await Promise.allSettled(deploys);
    await new Promise((r) => setTimeout(r, 1100)); // past the reconcile lease
    const survivor = await start(); // reconciles at start
    let recorded = 0;
    for (const { userId, agentId } of agents) {
      const r = await internal(
        survivor,
        'GET',
        `/internal/agents/${agentId}/tool-environment?userId=${userId}`,
      );
      if (r.status === 404) continue; // the kill came before the deploy was recorded
      recorded++;
      await activeEnv(survivor, agentId, userId);
    }
    // The kill must have interrupted deploys, or this test would prove nothing.
    expect(recorded).toBeGreaterThan(0);
    const droplets = [...emulator.state.droplets.values()].filter((d) =>
      agents.some((a) => d.tags.includes(`agent:${a.agentId}`)),
    );
    for (const { agentId } of agents) {
      expect(droplets.filter((d) => d.tags.includes(`agent:${agentId}`)).length).toBeLessThanOrEqual(1);
    }
    // Every droplet is the one its environment records.
    for (const droplet of droplets) {
      const agent = agents.find((a) => droplet.tags.includes(`agent:${a.agentId}`))!;
      const r = await internal(
        survivor,
        'GET',
        `/internal/agents/${agent.agentId}/tool-environment?userId=${agent.userId}`,
      );
      expect(r.body.environment.droplet_id).toBe(droplet.id);
      expect(droplet.tags.some((t) => t.startsWith(DEPLOY_TAG_PREFIX))).toBe(true);
    }
  });
});
