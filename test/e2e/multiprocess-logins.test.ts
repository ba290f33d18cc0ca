/**
 * Logins checked by one berth process after a key was deleted through another: two
 * `berth serve` processes on one PostgreSQL and one DigitalOcean (an emulator with real
 * hosts in this process). The droplet is deployed through process B, so its login check
 * asks B; the owner deletes a key through process A, and the next login with that key
 * is refused while the owner's other key still logs in.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ensureRangeStaysLocal, MACHINE_ADDRESS } from '../../src/digitalocean/emulator/host/network.ts';
import { createEmulator, type Emulator } from '../../src/digitalocean/emulator/index.ts';
import { formatMasterKey, generateMasterKey } from '../../src/domain/vault/keyring.ts';
import { type BerthProcess, spawnBerth } from '../support/berth-process.ts';
import { createServerDatabase } from '../support/db.ts';
import { eventually } from '../support/environments.ts';
import { describeRealHosts, sshRun } from '../support/real-hosts.ts';

const serverUrl = process.env.TEST_DATABASE_URL;
if (!serverUrl && process.env.CI) throw new Error('TEST_DATABASE_URL must be set in CI');

const TOKEN = 'multi-process-logins-token';
const JWT_SECRET = randomBytes(32).toString('hex');
const INTERNAL_SECRET = randomBytes(32).toString('hex');
const ISSUER = 'berth-multiprocess-logins-test';

const describeIf = serverUrl ? describeRealHosts : () => {};

describeIf('logins checked by one berth process after a delete through another', () => {
  let emulator: Emulator;
  let database: { url: string; drop(): Promise<void> };
  let dataDir: string;
  const processes: BerthProcess[] = [];

  beforeAll(async () => {
    await ensureRangeStaysLocal();
    emulator = createEmulator({ token: TOKEN, activeAfterMs: 200, sshPort: 0, hosts: 'real' });
    const emulatorUrl = (await emulator.listen(0)).url;
    database = await createServerDatabase();
    dataDir = mkdtempSync(join(tmpdir(), 'berth-mpl-'));
    const env = (dropletPort: number) => ({
      DATABASE_URL: database.url,
      BERTH_DATA_DIR: dataDir,
      BERTH_MASTER_KEYS: formatMasterKey(generateMasterKey('k1')),
      BERTH_JWT_SECRET: JWT_SECRET,
      BERTH_JWT_ISSUER: ISSUER,
      BERTH_INTERNAL_API_SECRET: INTERNAL_SECRET,
      DIGITALOCEAN_TOKEN: TOKEN,
      DIGITALOCEAN_API_URL: emulatorUrl,
      BERTH_DROPLET_API_URL: `http://${MACHINE_ADDRESS}:${dropletPort}`,
      BERTH_DROPLET_API_HOST: MACHINE_ADDRESS,
      BERTH_DROPLET_API_PORT: String(dropletPort),
      BERTH_LOG_LEVEL: 'info',
    });
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    processes.push(await spawnBerth(env(port)), await spawnBerth(env(port + 1)));
  }, 120_000);

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await emulator?.close();
    await database?.drop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const tokenFor = (userId: string) =>
    new SignJWT({ role: 'authenticated' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(userId)
      .setAudience('authenticated')
      .setIssuer(ISSUER)
      .setExpirationTime('10m')
      .sign(new TextEncoder().encode(JWT_SECRET));

  async function call(
    url: string,
    headers: Record<string, string>,
    method: string,
    path: string,
    body?: unknown,
  ) {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { ...headers, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return {
      status: response.status,
      body: (response.status === 204 ? null : await response.json()) as never,
    };
  }

  it('refuses, in a login B checks, a key deleted through A; the other key still logs in', async () => {
    const [a, b] = processes as [BerthProcess, BerthProcess];
    const userId = randomUUID();
    const internal = { 'x-internal-api-secret': INTERNAL_SECRET };
    expect(
      (await call(a.internalUrl!, internal, 'POST', `/internal/users/${userId}/onboard`, {})).status,
    ).toBe(202);
    const user = { authorization: `Bearer ${await tokenFor(userId)}` };
    const made = async (name: string) =>
      (await call(a.url, user, 'POST', '/api/ssh-keys', { name })).body as {
        key: { id: string };
        private_key: string;
      };
    const [keep, stolen] = [await made('keep'), await made('stolen')];
    const { agent } = (await call(a.url, user, 'POST', '/api/agents', { name: 'scout' })).body as {
      agent: { id: string };
    };
    await call(b.internalUrl!, internal, 'POST', `/internal/agents/${agent.id}/ensure-tool-environment`, {
      userId,
    });
    const env = await eventually(async () => {
      const r = await call(
        b.internalUrl!,
        internal,
        'GET',
        `/internal/agents/${agent.id}/tool-environment?userId=${userId}`,
      );
      const e = (r.body as { environment?: { status: string; ip_address: string; login_access: string } })
        .environment;
      return e?.status === 'active' ? e : null;
    }, 180_000);
    expect(env.login_access).toBe('live');
    const login = (key: string) =>
      sshRun({ text: key }, { user: 'agent', address: env.ip_address }, 'id -un');
    expect(await login(stolen.private_key)).toMatchObject({ code: 0, stdout: 'agent\n' });
    expect((await call(a.url, user, 'DELETE', `/api/ssh-keys/${stolen.key.id}`)).status).toBe(204);
    expect((await login(stolen.private_key)).code).toBe(255);
    expect(await login(keep.private_key)).toMatchObject({ code: 0, stdout: 'agent\n' });
  }, 300_000);
});
