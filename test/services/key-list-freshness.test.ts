/**
 * The key list cache stays true to the database across processes. Each "process" here is
 * what `src/main.ts` builds for one: its own pool, key-change bus (its own LISTEN
 * connection on PostgreSQL), key list cache and key service, over one shared database.
 * A change made anywhere, through the key service or not, reaches every process's cache;
 * the process that made it reads it back at once; and a process that cannot hear changes
 * stops trusting its cache until it hears them again.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Authz, createAuthz } from '../../src/db/authz.ts';
import { type DatabaseHandle, openDatabase } from '../../src/db/engine.ts';
import { generateKeyPair } from '../../src/domain/sshkeys/generate.ts';
import { createKeyring, generateMasterKey } from '../../src/domain/vault/keyring.ts';
import { MemoryKeyCache, TieredKeyCache } from '../../src/services/key-cache.ts';
import { type KeyChangeBus, startKeyChangeBus } from '../../src/services/key-invalidation.ts';
import { KeyListCache } from '../../src/services/key-list-cache.ts';
import { SshKeyService } from '../../src/services/ssh-key-service.ts';
import { DbSecretStore, EncryptedSecretStore } from '../../src/store/secrets.ts';
import { type EngineName, openTestDatabase, type TestDatabase, testEngines } from '../support/db.ts';
import { eventually } from '../support/environments.ts';

const keyring = createKeyring([generateMasterKey('k1')]);

interface Process {
  sshKeys: SshKeyService;
  deployKeys: TieredKeyCache;
  authz: Authz;
  lists: KeyListCache;
  hits: () => number;
  /** The users whose changes this process has heard of on its bus, in order. */
  heard: string[];
  listening: boolean[];
  close(): Promise<void>;
}

async function startProcess(t: TestDatabase): Promise<Process> {
  // On PostgreSQL a process has its own pool; PGlite is one process's database anyway.
  const own: DatabaseHandle = t.url ? await openDatabase({ kind: 'postgres', url: t.url, poolSize: 4 }) : t;
  const authz = createAuthz(own);
  let hits = 0;
  const lists = new KeyListCache({}, { hit: () => hits++, miss() {} });
  const listening: boolean[] = [];
  const heard: string[] = [];
  const deployKeys = new TieredKeyCache(new MemoryKeyCache(), null);
  const bus: KeyChangeBus = await startKeyChangeBus({
    engine: own.engine,
    cache: deployKeys,
    shared: null,
    onChange: (userId) => {
      lists.invalidate(userId);
      heard.push(userId);
    },
    onListening: (up) => {
      listening.push(up);
      lists.listening(up);
    },
  });
  const sshKeys = new SshKeyService({
    authz,
    secrets: new EncryptedSecretStore(new DbSecretStore(), keyring),
    keygen: { generate: async (o) => generateKeyPair(o) },
    onKeysChanged: (userId, tx) => bus.publish(userId, tx),
    keyLists: lists,
  });
  return {
    sshKeys,
    deployKeys,
    authz,
    lists,
    hits: () => hits,
    heard,
    listening,
    async close() {
      await bus.close();
      if (own !== t) await own.close();
    },
  };
}

const names = async (p: Process, userId: string) =>
  (await p.sshKeys.getUserSSHKeys(userId)).map((k) => k.name);

/**
 * Waits until `p` has heard of `count` changes to the user's keys. A read that shows a
 * change does not mean its notice has arrived: the read goes to the database, and the
 * notice may come after it and drop what the test put in a cache since.
 */
const heardOf = (p: Process, userId: string, count: number) =>
  eventually(async () => p.heard.filter((u) => u === userId).length >= count, 5_000);

describe.each(testEngines())('the key list cache on %s', (engine: EngineName) => {
  let t: TestDatabase;
  let a: Process;
  let b: Process;

  beforeAll(async () => {
    t = await openTestDatabase(engine);
    a = await startProcess(t);
    b = await startProcess(t);
  }, 60_000);

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await t?.close();
  });

  it('answers a repeated read from memory', async () => {
    const user = await t.createUser();
    await a.sshKeys.createKey(user, { name: 'one' });
    // Once the creation's notice has passed, the first read is stored and the next is
    // a hit; a read before it could be stored and then dropped by the late notice.
    await heardOf(b, user, 1);
    expect(await names(b, user)).toEqual(['one']);
    const before = b.hits();
    expect(await names(b, user)).toEqual(['one']);
    expect(b.hits()).toBe(before + 1);
  });

  it('shows the process that changed a key its change at once', async () => {
    const user = await t.createUser();
    await a.sshKeys.createKey(user, { name: 'one' });
    expect(await names(a, user)).toEqual(['one']);
    const two = await a.sshKeys.createKey(user, { name: 'two' });
    expect(await names(a, user)).toEqual(['one', 'two']);
    await a.sshKeys.deleteUserSSHKey(user, two.key.id);
    expect(await names(a, user)).toEqual(['one']);
  });

  it('drops a key another process deleted from this process’s list', async () => {
    const user = await t.createUser();
    const one = await a.sshKeys.createKey(user, { name: 'one' });
    await a.sshKeys.createKey(user, { name: 'two' });
    expect(await names(b, user)).toEqual(['one', 'two']);
    await a.sshKeys.deleteUserSSHKey(user, one.key.id);
    await eventually(async () => (await names(b, user)).join() === 'two', 5_000);
  });

  it('hears of a change made outside the key service (the DigitalOcean id recorded in SQL)', async () => {
    const user = await t.createUser();
    const { key } = await a.sshKeys.createKey(user, { name: 'one' });
    expect((await b.sshKeys.getUserSSHKeys(user))[0]?.digitaloceanKeyId).toBeNull();
    await t.authz.asService('test: record a DigitalOcean id', (tx) =>
      tx.execute(sql`update user_ssh_keys set digitalocean_key_id = 777 where id = ${key.id}`),
    );
    await eventually(async () => (await b.sshKeys.getUserSSHKeys(user))[0]?.digitaloceanKeyId === 777, 5_000);
  });

  it('keeps the deployment keys cached when a key gets its first DigitalOcean id, and drops them for any other change', async () => {
    const user = await t.createUser();
    const { key } = await a.sshKeys.createKey(user, { name: 'one' });
    const cached = { digitaloceanKeyIds: [1], fingerprints: ['aa'] };
    // The creation's own notice drops deployment keys; it must have passed before the
    // test caches some, or it would drop them and look like the registration's.
    await heardOf(b, user, 1);
    await b.deployKeys.set(user, cached);
    await t.authz.asService('test: record a DigitalOcean id', (tx) =>
      tx.execute(
        sql`update user_ssh_keys set digitalocean_key_id = 778, updated_at = now() where id = ${key.id}`,
      ),
    );
    await heardOf(b, user, 2);
    expect((await b.sshKeys.getUserSSHKeys(user))[0]?.digitaloceanKeyId).toBe(778);
    expect(await b.deployKeys.get(user)).toEqual(cached);
    await t.authz.asService('test: rename a key', (tx) =>
      tx.execute(sql`update user_ssh_keys set key_name = 'renamed' where id = ${key.id}`),
    );
    await eventually(async () => (await b.deployKeys.get(user)) === undefined, 5_000);
  });
});

describe.each(testEngines().filter((e) => e === 'postgres'))('the key-change bus on %s', (engine) => {
  let t: TestDatabase;
  let p: Process;

  beforeAll(async () => {
    t = await openTestDatabase(engine);
    p = await startProcess(t);
  }, 60_000);

  afterAll(async () => {
    await p?.close();
    await t?.close();
  });

  it('turns the cache off while its LISTEN connection is gone, and back on once it listens again', async () => {
    const user = await t.createUser();
    await p.sshKeys.createKey(user, { name: 'one' });
    await names(p, user);
    await t.db.execute(sql`select pg_terminate_backend(pid) from pg_stat_activity
      where datname = current_database() and query ilike 'listen %'`);
    await eventually(async () => p.listening.includes(false), 5_000);
    // While it cannot hear, every read goes to the database.
    const hitsWhileDeaf = p.hits();
    await names(p, user);
    await names(p, user);
    expect(p.hits()).toBe(hitsWhileDeaf);
    await eventually(async () => p.listening.at(-1) === true, 10_000);
    expect(p.listening).toEqual([false, true]);
    // Listening again: changes from elsewhere are heard.
    expect(await names(p, user)).toEqual(['one']);
    await t.authz.asService('test: rename a key', (tx) =>
      tx.execute(sql`update user_ssh_keys set key_name = 'renamed' where user_id = ${user}`),
    );
    await eventually(async () => (await names(p, user)).join() === 'renamed', 5_000);
  });
});
