/**
 * The berth stack the deploy benchmarks run against, wired as the composition root
 * (src/main.ts) wires it: PostgreSQL in a throwaway database, the shared rate budget on
 * that database, the keygen pool, the metrics observers, the key-change bus, the tiered
 * key cache, the SSH key, registration, onboarding and deployment key services, and the
 * environment services, all pointed at an in-process DigitalOcean emulator. What a
 * benchmark needs to vary (the emulator's and the budget's limits, how droplets are
 * followed, which keys a deploy gets) comes in as options, and every call the client
 * sends is recorded so a benchmark can count them. close() closes everything, in
 * reverse order of opening, and drops the database.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { pino } from 'pino';
import type { Authz } from '../src/db/authz.ts';
import { createAuthz } from '../src/db/authz.ts';
import type { DatabaseHandle } from '../src/db/engine.ts';
import { runMigrations } from '../src/db/migrate.ts';
import { agents } from '../src/db/schema.ts';
import { DigitalOceanClient, type RateLimits } from '../src/digitalocean/client/index.ts';
import {
  createEmulator,
  type Emulator,
  type RateLimits as EmulatorLimits,
} from '../src/digitalocean/emulator/index.ts';
import { PgRateBudget } from '../src/digitalocean/pg-rate-budget.ts';
import { createKeyring, generateMasterKey } from '../src/domain/vault/keyring.ts';
import { createLogger, type Logger } from '../src/observability/logger.ts';
import { createMetrics } from '../src/observability/metrics.ts';
import { createObservers } from '../src/observability/observers.ts';
import { DeploymentKeyService } from '../src/services/deployment-keys.ts';
import { ToolEnvironmentService } from '../src/services/environments/environment-service.ts';
import { DropletFollower } from '../src/services/environments/follower.ts';
import {
  type DropletApi,
  type DropletSettings,
  installationTagFor,
} from '../src/services/environments/ports.ts';
import { Provisioner } from '../src/services/environments/provisioner.ts';
import { MemoryKeyCache, TieredKeyCache } from '../src/services/key-cache.ts';
import { startKeyChangeBus } from '../src/services/key-invalidation.ts';
import { KeyRegistrar } from '../src/services/key-registration.ts';
import { createKeygenPool } from '../src/services/keygen-pool.ts';
import { UserOnboardingService } from '../src/services/onboarding-service.ts';
import { SshKeyService } from '../src/services/ssh-key-service.ts';
import { readInstallation } from '../src/store/installation.ts';
import { DbSecretStore, EncryptedSecretStore } from '../src/store/secrets.ts';
import { ensureUserRow } from '../src/store/users.ts';
import { openBenchDatabase } from './onboarding-support.ts';

/** The PostgreSQL server the benchmarks make their scratch databases on. */
export function benchDatabaseUrl(): string {
  return process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
}

/** One DigitalOcean call as the client sent it: never headers or bodies. */
export interface SentCall {
  method: string;
  path: string;
  /** The `tag_name` query parameter, which tells a deploy-tag lookup from a polling list. */
  tag: string | null;
  status: number;
}

/** The keys port of the provisioner: what a deploy asks for its droplet's keys. */
export type KeysPort = Pick<DeploymentKeyService, 'prepareForDeployment' | 'invalidateSSHKeyCache'>;

export interface DeployPath {
  service: ToolEnvironmentService;
  follower: DropletFollower;
  close(): Promise<void>;
}

export interface BenchStackOptions {
  databaseUrl?: string;
  /** The emulator's limits; its defaults are DigitalOcean's (250/minute, 5,000/hour). */
  emulatorLimits?: Partial<EmulatorLimits>;
  /** The budget's limits; its default is DigitalOcean's. */
  budgetLimits?: RateLimits;
  activeAfterMs: number;
  /** Loopback addresses the emulator may hand out, which bounds how many droplets can live. */
  addressCount?: number;
  /** Instruments: the database access of the key services and the budget; each HTTP call's time. */
  keyServicesAuthz?: (authz: Authz) => Authz;
  onFetched?: (ms: number) => void;
}

export interface BenchStack {
  database: DatabaseHandle;
  authz: Authz;
  emulator: Emulator;
  client: DigitalOceanClient;
  /** One GET straight to the emulator, past the client and its rate budget: the bare round trip. */
  bareGet(path: string): Promise<number>;
  calls: SentCall[];
  sshKeys: SshKeyService;
  deploymentKeys: DeploymentKeyService;
  cache: { hits: number; misses: number };
  logger: Logger;
  settings: DropletSettings;
  createUsers(count: number): Promise<string[]>;
  /** One agent per entry of `owners`, in one transaction per 500. */
  createAgents(owners: string[]): Promise<string[]>;
  /** The environment services (as createEnvironmentModule builds them, less the reconciler) around `keys`. */
  deployPath(options: {
    keys: KeysPort;
    authz?: Authz;
    droplets?: DropletApi;
    /** Absent: the follower's own defaults, as in production. */
    follow?: { firstDelayMs: number; maxDelayMs: number };
    onActive?: (envId: string) => void;
  }): DeployPath;
  close(): Promise<void>;
}

export async function openBenchStack(options: BenchStackOptions): Promise<BenchStack> {
  const closers: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const fn of closers.reverse()) await fn().catch((error) => console.error('bench close:', error));
  };
  try {
    const database = await openBenchDatabase(options.databaseUrl ?? benchDatabaseUrl());
    closers.push(() => database.close());
    await runMigrations(database.engine);
    const authz = createAuthz(database);
    const installationTag = installationTagFor(
      (await authz.asService('bench: installation id', readInstallation)).id,
    );
    const keysAuthz = options.keyServicesAuthz?.(authz) ?? authz;
    // Warnings go to stderr, beside the progress lines, so stdout carries only the table.
    const logger = createLogger({ level: 'warn', destination: pino.destination({ fd: 2, sync: true }) });
    const token = randomBytes(16).toString('hex');
    const emulator = createEmulator({
      token,
      activeAfterMs: options.activeAfterMs,
      ...(options.emulatorLimits ? { rateLimits: options.emulatorLimits } : {}),
      ssh: { enabled: false, addressCount: options.addressCount ?? 253 },
      onError: (message) => logger.warn({ component: 'do-emulator' }, message),
    });
    closers.push(() => emulator.close());
    const { url } = await emulator.listen(0);
    const calls: SentCall[] = [];
    // The metrics the composition root records into: their cost is part of the deploy path.
    const observers = createObservers(createMetrics({ version: 'bench' }));
    const client = new DigitalOceanClient({
      baseUrl: url,
      token: () => token,
      rateBudget: new PgRateBudget({
        authz: keysAuthz,
        token,
        ...(options.budgetLimits ? { limits: options.budgetLimits } : {}),
      }),
      fetch: recordingFetch(calls, options.onFetched),
      logger,
      observer: observers.digitalocean,
    });
    const keygen = createKeygenPool();
    closers.push(async () => keygen.close());
    const cache = { hits: 0, misses: 0 };
    const keyCache = new TieredKeyCache(new MemoryKeyCache(), null, {
      hit: (layer) => {
        cache.hits++;
        observers.cache.hit(layer);
      },
      miss: () => {
        cache.misses++;
        observers.cache.miss();
      },
    });
    const bus = await startKeyChangeBus({ engine: database.engine, cache: keyCache, shared: null });
    closers.push(() => bus.close());
    const secrets = new EncryptedSecretStore(
      new DbSecretStore(),
      createKeyring([generateMasterKey('bench')]),
      observers.vault,
    );
    const sshKeys = new SshKeyService({
      authz: keysAuthz,
      secrets,
      keygen,
      onKeysChanged: (userId, tx) => bus.publish(userId, tx),
    });
    const registrar = new KeyRegistrar({ authz: keysAuthz, registry: client });
    // The deploy path's cold step is onboarding's, as in the composition root. Nothing on
    // that path enqueues a job, so the queue here refuses loudly rather than pretending.
    const onboarding = new UserOnboardingService({
      authz: keysAuthz,
      sshKeys,
      registrar,
      queue: {
        sendInTransaction: () => Promise.reject(new Error('the deploy benchmarks enqueue no jobs')),
      },
      logger,
    });
    const deploymentKeys = new DeploymentKeyService({
      authz: keysAuthz,
      readyKeys: (userId, ctx) => onboarding.prepareFirstDeployment(userId, ctx),
      cache: keyCache,
      fallbackKeys: [],
      logger,
      observer: observers.deployKeys,
    });
    const settings: DropletSettings = {
      region: 'nyc3',
      size: 's-1vcpu-1gb',
      image: 'ubuntu-24-04-x64',
      sshPort: emulator.sshPort,
      sshUser: 'root',
      installDocker: false,
    };
    return {
      database,
      authz,
      emulator,
      client,
      async bareGet(path) {
        const response = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
        await response.arrayBuffer();
        return response.status;
      },
      calls,
      sshKeys,
      deploymentKeys,
      cache,
      logger,
      settings,
      async createUsers(count) {
        const ids = Array.from({ length: count }, () => randomUUID());
        await authz.asService('bench: create users', async (tx) => {
          for (const id of ids) await ensureUserRow(tx, { id, email: `${id}@bench.test` });
        });
        return ids;
      },
      async createAgents(owners) {
        const rows = owners.map((userId) => ({ id: randomUUID(), userId, name: 'bench agent' }));
        for (let i = 0; i < rows.length; i += 500) {
          const chunk = rows.slice(i, i + 500);
          await authz.asService('bench: create agents', (tx) => tx.insert(agents).values(chunk));
        }
        return rows.map((r) => r.id);
      },
      deployPath(path) {
        const pathAuthz = path.authz ?? authz;
        const droplets = path.droplets ?? client;
        const follower = new DropletFollower({
          authz: pathAuthz,
          droplets,
          sshPort: settings.sshPort,
          logger,
          ...path.follow,
          ...(path.onActive ? { onActive: path.onActive } : {}),
        });
        const provisioner = new Provisioner({
          authz: pathAuthz,
          droplets,
          keys: path.keys,
          follower,
          settings,
          logger,
          installationTag,
          observer: observers.deploys,
        });
        const service = new ToolEnvironmentService({
          authz: pathAuthz,
          provisioner,
          settings,
          logger,
          instanceId: randomUUID().slice(0, 8),
          installationTag,
        });
        const closePath = async () => {
          await service.settled();
          await follower.close();
        };
        closers.push(closePath);
        return { service, follower, close: closePath };
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

function recordingFetch(calls: SentCall[], onFetched?: (ms: number) => void): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init);
    const start = performance.now();
    const response = await fetch(request);
    onFetched?.(performance.now() - start);
    const url = new URL(request.url);
    calls.push({
      method: request.method,
      path: url.pathname,
      tag: url.searchParams.get('tag_name'),
      status: response.status,
    });
    return response;
  };
}

/** Calls grouped as `METHOD path-shape` (ids and fingerprints collapsed), for the report. */
export function callBreakdown(calls: SentCall[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const call of calls) {
    const shape = call.path
      .replace(/\/v2\/account\/keys\/[^/]+/, '/v2/account/keys/{id}')
      .replace(/\/\d+(?=\/|$)/g, '/{id}');
    const kind = call.tag?.startsWith('berth-poll:') ? ' (polling)' : call.tag ? ' (deploy-tag lookup)' : '';
    const name = `${call.method} ${shape}${kind}`;
    out[name] = (out[name] ?? 0) + 1;
  }
  return out;
}
