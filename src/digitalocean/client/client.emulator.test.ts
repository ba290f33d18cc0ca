import { createHash, generateKeyPairSync } from 'node:crypto';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createEmulator, type Emulator } from '../emulator/index.ts';
import {
  DigitalOceanRateLimitedError,
  DigitalOceanUnauthorizedError,
  DigitalOceanUnavailableError,
} from '../errors.ts';
import { createSpecValidator, type SpecValidator } from '../spec/validator.ts';
import { DigitalOceanClient, type DigitalOceanClientOptions, type DropletCreateRequest } from './client.ts';
import { deployTagFor } from './deploy-tag.ts';
import { InMemoryRateBudget } from './rate-budget.ts';

// Every request the client sends and every answer the emulator gives is checked against
// DigitalOcean's OpenAPI description; each test ends by asserting there was no departure.
const TOKEN = 'emulator-test-token';
let validator: SpecValidator;
let emulator: Emulator;
let url: string;
let closeListener: () => Promise<void>;

beforeAll(() => {
  validator = createSpecValidator();
});

async function startEmulator(rateLimits?: { perHour?: number; perMinute?: number }): Promise<void> {
  emulator = createEmulator({
    token: TOKEN,
    activeAfterMs: 50,
    ssh: { enabled: false },
    sshPort: 0,
    conformance: validator,
    ...(rateLimits ? { rateLimits } : {}),
  });
  const listening = await emulator.listen(0);
  url = listening.url;
  closeListener = listening.close;
}

beforeEach(async () => {
  await startEmulator();
});

afterEach(async () => {
  expect(emulator.violations()).toEqual([]);
  await closeListener();
  await emulator.close();
});

function clientFor(overrides: Partial<DigitalOceanClientOptions> = {}): DigitalOceanClient {
  return new DigitalOceanClient({
    baseUrl: url,
    token: () => TOKEN,
    rateBudget: new InMemoryRateBudget({ serverDelayFloorMs: 20, serverDelayCeilingMs: 300 }),
    timeoutMs: 2000,
    retry: {
      maxRetries: 3,
      baseDelayMs: 5,
      maxDelayMs: 20,
      serverDelayFloorMs: 20,
      serverDelayCeilingMs: 300,
    },
    breaker: { consecutiveFailures: 20, halfOpenAfterMs: 1000 },
    random: () => 0.5,
    ...overrides,
  });
}

/** A real ed25519 public key line and its DigitalOcean (MD5) fingerprint. */
function newPublicKey(comment = 'berth-test'): { publicKey: string; fingerprintMd5: string } {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  const type = Buffer.from('ssh-ed25519');
  const blob = Buffer.concat([u32(type.length), type, u32(raw.length), raw]);
  const fingerprintMd5 = createHash('md5').update(blob).digest('hex').match(/../g)!.join(':');
  return { publicKey: `ssh-ed25519 ${blob.toString('base64')} ${comment}`, fingerprintMd5 };
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

let deploys = 0;
function createRequest(sshKeys: (string | number)[] = []): DropletCreateRequest {
  deploys += 1;
  return {
    name: `env-${deploys}`,
    region: 'nyc3',
    size: 's-1vcpu-1gb',
    image: 'ubuntu-24-04-x64',
    ssh_keys: sshKeys,
    tags: ['berth', deployTagFor(`0b6f1a52-8f07-4c1e-9a57-${String(deploys).padStart(12, '0')}`)],
  };
}

describe('DigitalOceanClient against the emulator', () => {
  it('runs with a live conformance check, which records a request that departs from the spec', async () => {
    // Control for the zero-violation assertions: a second emulator sees a malformed create.
    const strict = createEmulator({
      token: TOKEN,
      ssh: { enabled: false },
      sshPort: 0,
      conformance: validator,
    });
    const listening = await strict.listen(0);
    try {
      await fetch(`${listening.url}/v2/droplets`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 42, size: 's-1vcpu-1gb', image: 'ubuntu-24-04-x64' }),
      });
      expect(strict.violations().some((v) => v.phase === 'request')).toBe(true);
    } finally {
      await listening.close();
      await strict.close();
    }
  });

  it('registers a new key with one create, and finds it by fingerprint when it is already there', async () => {
    const client = clientFor();
    const key = newPublicKey();
    const before = emulator.admin.counters();
    const first = await client.ensureSshKey({ name: 'fresh', ...key }, { createFirst: true });
    const again = await client.ensureSshKey({ name: 'fresh', ...key }, { createFirst: true });
    expect(again.id).toBe(first.id);
    const after = emulator.admin.counters();
    const delta = (name: string) => (after[name] ?? 0) - (before[name] ?? 0);
    // One create for the new key; the second call's create is "already in use" and leads to one lookup.
    expect(delta('sshKeys_create')).toBe(2);
    expect(delta('sshKeys_get')).toBe(1);
  });

  it('registers a key, deploys a droplet with it, acts on it and cleans up, all within the spec', async () => {
    const client = clientFor();
    const key = newPublicKey();
    const registered = await client.ensureSshKey({ name: 'berth-user-1', ...key });
    expect(registered.fingerprint).toBe(key.fingerprintMd5);
    expect((await client.ensureSshKey({ name: 'berth-user-1', ...key })).id).toBe(registered.id);
    expect((await client.updateSshKeyName(registered.id, 'renamed')).name).toBe('renamed');

    const request = createRequest([registered.fingerprint]);
    const created = await client.createDroplet(request);
    expect(created.adopted).toBe(false);
    expect(created.actionIds).toHaveLength(1);
    await emulator.advance();
    await new Promise((r) => setTimeout(r, 80));
    expect((await client.getAction(created.actionIds[0]!)).status).toBe('completed');
    expect((await client.getDroplet(created.droplet.id)).status).toBe('active');

    const action = await client.postDropletAction(created.droplet.id, { type: 'power_off' });
    expect((await client.getDropletAction(created.droplet.id, action.id!)).id).toBe(action.id);

    const tag = request.tags!.find((t) => t.startsWith('berth-deploy:'))!;
    expect((await client.listDropletsByTag(tag)).map((d) => d.id)).toEqual([created.droplet.id]);
    expect(await client.deleteDropletsByTag(tag)).toBe(true);
    expect(await client.listDropletsByTag(tag)).toEqual([]);
    expect(await client.deleteSshKey(registered.fingerprint)).toBe(true);
    expect(await client.deleteSshKey(registered.fingerprint)).toBe(false);
    expect(emulator.admin.counters().sshKeys_list ?? 0).toBe(0);
  });

  it('follows pagination to collect every droplet with a tag', async () => {
    const client = clientFor({ pageSize: 2 });
    const shared = 'berth-user:pages';
    for (let i = 0; i < 5; i++) {
      const request = createRequest();
      await client.createDroplet({ ...request, tags: [...request.tags!, shared] });
    }
    expect(await client.listDropletsByTag(shared)).toHaveLength(5);
  });

  it('ensures one key from two racing deploys: one creates, the other reads the 422 as "exists"', async () => {
    // Both lookups must be in flight together, so both answer 404 and both deploys create.
    // 100 ms was not always enough on a loaded CI machine (the second lookup went out after
    // the first deploy's create, found the key, and created nothing).
    emulator.admin.setLatency('sshKeys_get', 500);
    const client = clientFor();
    const key = newPublicKey();
    const [a, b] = await Promise.all([
      client.ensureSshKey({ name: 'a', ...key }),
      client.ensureSshKey({ name: 'b', ...key }),
    ]);
    expect(a.id).toBe(b.id);
    const counters = emulator.admin.counters();
    expect(counters.sshKeys_create).toBe(2);
    expect(counters.sshKeys_get).toBe(3);
    expect(counters.sshKeys_list ?? 0).toBe(0);
    expect(emulator.admin.snapshot().ssh_keys).toHaveLength(1);
  });

  it.each([500, 503, 'drop'] as const)(
    'adopts the droplet when the create took effect but the answer failed with %s',
    async (fault) => {
      emulator.admin.acceptThenFail('droplets_create', fault);
      const result = await clientFor().createDroplet(createRequest());
      expect(result.adopted).toBe(true);
      expect(emulator.admin.snapshot().droplets).toHaveLength(1);
      expect(emulator.admin.counters().droplets_create).toBe(1);
    },
  );

  it('adopts the droplet when the create took effect but the answer never came (timeout)', async () => {
    emulator.admin.acceptThenFail('droplets_create', 'timeout');
    const result = await clientFor({ timeoutMs: 300 }).createDroplet(createRequest());
    expect(result.adopted).toBe(true);
    expect(emulator.admin.snapshot().droplets).toHaveLength(1);
    expect(emulator.admin.counters().droplets_create).toBe(1);
  });

  it('posts again only when the lookup shows the failed create made nothing', async () => {
    emulator.admin.failNext('droplets_create', 2, 500);
    const result = await clientFor().createDroplet(createRequest());
    expect(result.adopted).toBe(false);
    expect(emulator.admin.snapshot().droplets).toHaveLength(1);
    const counters = emulator.admin.counters();
    expect(counters.droplets_create).toBe(3);
    // One lookup before the first POST and one after each of the two failures.
    expect(counters.droplets_list).toBe(3);
  });

  it('gives up on a create that keeps failing after a bounded number of posts, with no droplet left over', async () => {
    emulator.admin.setErrorRate('droplets_create', 503, 1);
    const started = Date.now();
    const error = await clientFor({ createAttempts: 3 })
      .createDroplet(createRequest())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DigitalOceanUnavailableError);
    expect(emulator.admin.counters().droplets_create).toBe(3);
    expect(emulator.admin.snapshot().droplets).toHaveLength(0);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('honours retry-after on injected 429s and then succeeds', async () => {
    emulator.admin.addFault({ endpoint: 'sshKeys_get', fault: 429, times: 2, retryAfterSeconds: 0 });
    const key = newPublicKey();
    const client = clientFor();
    await client.ensureSshKey({ name: 'k', ...key });
    expect(emulator.admin.counters().sshKeys_get).toBe(3);
  });

  it('stops after the retry cap on a persistent 429 instead of storming', async () => {
    emulator.admin.setErrorRate('droplets_get', 429, 1);
    const error = await clientFor()
      .getDroplet(1)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DigitalOceanRateLimitedError);
    expect(emulator.admin.counters().droplets_get).toBe(4);
  });

  it('opens the breaker after repeated 500s and then fails fast without reaching the server', async () => {
    emulator.admin.setErrorRate('droplets_get', 500, 1);
    const client = clientFor({
      retry: { maxRetries: 1 },
      breaker: { consecutiveFailures: 4, halfOpenAfterMs: 60_000 },
    });
    for (let i = 0; i < 2; i++)
      await expect(client.getDroplet(1)).rejects.toBeInstanceOf(DigitalOceanUnavailableError);
    expect(client.breakerState()).toBe('open');
    const fast = (await client.getDroplet(1).catch((e: unknown) => e)) as DigitalOceanUnavailableError;
    expect(fast.reason).toBe('circuit_open');
    expect(emulator.admin.counters().droplets_get).toBe(4);
  });

  it('answers a wrong token with an unauthorized error that does not contain it', async () => {
    const error = (await clientFor({ token: () => 'wrong-secret-token' })
      .getDroplet(1)
      .catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(DigitalOceanUnauthorizedError);
    expect(`${error.message}${JSON.stringify(error)}`).not.toContain('wrong-secret-token');
    expect(emulator.admin.counters().droplets_get).toBe(1);
  });
});

describe('DigitalOceanClient against the emulator rate limits', () => {
  beforeEach(async () => {
    await closeListener();
    await emulator.close();
    await startEmulator({ perHour: 5 });
  });

  it('stops at what the server says remains and then probes no faster than the floor', async () => {
    const client = clientFor();
    for (let i = 0; i < 5; i++)
      await expect(client.getDroplet(999)).rejects.toMatchObject({ code: 'not_found' });
    const started = Date.now();
    const error = await client.getDroplet(999).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DigitalOceanRateLimitedError);
    // Five allowed calls, then at most the first attempt and three retries, each held back.
    expect(emulator.admin.counters().droplets_get).toBeLessThanOrEqual(9);
    expect(Date.now() - started).toBeGreaterThanOrEqual(3 * 20);
  });
});
