/**
 * A berth environment stack for tests: a test database, the local DigitalOcean emulator
 * (checking every request and answer against DigitalOcean's OpenAPI description), the
 * real client, and the key and environment services wired as the composition root wires
 * them, with short timings so droplets turn active in a fraction of a second.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { agents } from '../../src/db/schema.ts';
import { DigitalOceanClient, InMemoryRateBudget } from '../../src/digitalocean/client/index.ts';
import { createEmulator, type Emulator } from '../../src/digitalocean/emulator/index.ts';
import { createSpecValidator } from '../../src/digitalocean/spec/validator.ts';
import { AGENT_USER } from '../../src/domain/environments/cloud-init.ts';
import { generateKeyPair } from '../../src/domain/sshkeys/generate.ts';
import { createKeyring, generateMasterKey } from '../../src/domain/vault/keyring.ts';
import { createDropletApp } from '../../src/http/droplet-app.ts';
import { clientIpResolver } from '../../src/http/middleware.ts';
import { listen } from '../../src/http/server.ts';
import { DeploymentKeyService } from '../../src/services/deployment-keys.ts';
import { DropletAccessService } from '../../src/services/droplet-access.ts';
import { createEnvironmentModule, type EnvironmentModule } from '../../src/services/environments/index.ts';
import { installationTagFor } from '../../src/services/environments/ports.ts';
import { type KeyCache, MemoryKeyCache, TieredKeyCache } from '../../src/services/key-cache.ts';
import { type KeyChangeBus, startKeyChangeBus } from '../../src/services/key-invalidation.ts';
import { KeyListCache } from '../../src/services/key-list-cache.ts';
import { KeyRegistrar } from '../../src/services/key-registration.ts';
import { SshKeyService } from '../../src/services/ssh-key-service.ts';
import { readInstallation } from '../../src/store/installation.ts';
import { DbSecretStore, EncryptedSecretStore } from '../../src/store/secrets.ts';
import type { EngineName, TestDatabase } from './db.ts';
import { openTestDatabase } from './db.ts';

// The one polling helper, here too for the environment tests that import it with a stack.
export { eventually } from './eventually.ts';

const run = promisify(execFile);
const emulatorUrls = new WeakMap<Emulator, { url: string }>();
export const EMULATOR_TOKEN = 'test-do-token';

export interface Stack {
  t: TestDatabase;
  emulator: Emulator;
  client: DigitalOceanClient;
  sshKeys: SshKeyService;
  deploymentKeys: DeploymentKeyService;
  environments: EnvironmentModule;
  /** The tag of this database's installation, which its droplets carry. */
  installationTag: string;
  bus: KeyChangeBus;
  /** The deployment key cache behind `deploymentKeys`. */
  cache: KeyCache;
  /** Droplets' login checks, and where the droplet API listens (when asked for). */
  dropletAccess: DropletAccessService;
  dropletApiUrl: string | null;
  /** Every line the DigitalOcean client logged, debug included, oldest first. */
  clientLog: { message: string; fields: Record<string, unknown> }[];
  createAgent(userId: string, name?: string): Promise<string>;
  close(): Promise<void>;
}

export async function openStack(
  engine: EngineName,
  options: {
    fallbackKeys?: (number | string)[];
    existing?: TestDatabase;
    instanceId?: string;
    /** Share another stack's emulator (another "process" on the same DigitalOcean). */
    reuseEmulator?: Emulator;
    /** Real-host droplets (cloud-init, sshd, the agent's login) instead of light ones. */
    hosts?: 'real' | 'light';
    /** Told of the emulator's problems (a real host's failed boot, with its log). */
    onEmulatorError?: (message: string) => void;
    /**
     * Droplet access settings, and with `host` the droplet API served there (port 0), so
     * deploys get live access; without it a test serves the API itself.
     */
    dropletApi?: { host?: string; graceSeconds?: number; refusalsPerMinute?: number };
  } = {},
): Promise<Stack> {
  const t = options.existing ?? (await openTestDatabase(engine));
  const emulator =
    options.reuseEmulator ??
    createEmulator({
      token: EMULATOR_TOKEN,
      activeAfterMs: 200,
      sshPort: 0,
      conformance: createSpecValidator(),
      hosts: options.hosts ?? 'light',
      ...(options.onEmulatorError ? { onError: options.onEmulatorError } : {}),
    });
  const listening = options.reuseEmulator ? emulatorUrls.get(emulator)! : await emulator.listen(0);
  emulatorUrls.set(emulator, listening);
  const logger = pino({ level: 'silent' });
  const clientLog: Stack['clientLog'] = [];
  const record = (fields: Record<string, unknown>, message: string) => clientLog.push({ message, fields });
  const client = new DigitalOceanClient({
    baseUrl: listening.url,
    logger: { debug: record, warn: record },
    token: () => EMULATOR_TOKEN,
    rateBudget: new InMemoryRateBudget(),
    timeoutMs: 10_000,
    retry: { maxRetries: 2, baseDelayMs: 20, maxDelayMs: 200, serverDelayFloorMs: 50 },
    breaker: { consecutiveFailures: 50 },
  });
  const cache = new TieredKeyCache(new MemoryKeyCache(), null);
  const keyLists = new KeyListCache();
  const dropletAccess = new DropletAccessService({
    authz: t.authz,
    keyLists,
    fence: () => bus.fence(),
    logger,
    graceSeconds: options.dropletApi?.graceSeconds ?? 3600,
    agentUser: AGENT_USER,
    ...(options.dropletApi?.refusalsPerMinute
      ? { refusalsPerMinute: options.dropletApi.refusalsPerMinute }
      : {}),
  });
  const bus = await startKeyChangeBus({
    engine: t.engine,
    cache,
    shared: null,
    onChange: (userId) => {
      keyLists.invalidate(userId);
      dropletAccess.invalidate(userId);
    },
    onListening: (heard) => {
      keyLists.listening(heard);
      dropletAccess.listening(heard);
    },
  });
  let dropletListener: Awaited<ReturnType<typeof listen>> | null = null;
  if (options.dropletApi?.host) {
    const app = createDropletApp({ access: dropletAccess, clientIp: clientIpResolver(0), logger });
    dropletListener = await listen(app.fetch, { port: 0, host: options.dropletApi.host });
    dropletAccess.serveAt(dropletListener.url);
  }
  const secrets = new EncryptedSecretStore(new DbSecretStore(), createKeyring([generateMasterKey('k1')]));
  const sshKeys = new SshKeyService({
    authz: t.authz,
    secrets,
    keygen: { generate: async (o) => generateKeyPair(o) },
    onKeysChanged: (userId, tx) => bus.publish(userId, tx),
    keyLists,
  });
  const registrar = new KeyRegistrar({ authz: t.authz, registry: client });
  const deploymentKeys = new DeploymentKeyService({
    authz: t.authz,
    readyKeys: async (userId, ctx) =>
      registrar.register(userId, await sshKeys.ensureUserHasSSHKeys(userId, ctx), 'deploy', ctx),
    cache,
    fallbackKeys: options.fallbackKeys ?? [],
    logger,
  });
  const installationId = (await t.authz.asService('test: installation id', readInstallation)).id;
  const environments = createEnvironmentModule({
    authz: t.authz,
    droplets: client,
    keys: deploymentKeys,
    settings: {
      region: 'nyc3',
      size: 's-1vcpu-1gb',
      image: 'ubuntu-24-04-x64',
      sshPort: emulator.sshPort,
      // As main.ts decides: the agent's login exists where droplets run berth's user_data.
      sshUser: emulator.hosts.kind === 'real' ? AGENT_USER : 'root',
      installDocker: false,
    },
    logger,
    instanceId: options.instanceId ?? 'test',
    installationId,
    follow: { firstDelayMs: 100, maxDelayMs: 300 },
    leaseMs: 0,
    access: dropletAccess,
  });
  return {
    t,
    emulator,
    client,
    sshKeys,
    deploymentKeys,
    environments,
    installationTag: installationTagFor(installationId),
    bus,
    cache,
    dropletAccess,
    dropletApiUrl: dropletListener?.url ?? null,
    clientLog,
    async createAgent(userId, name = 'agent') {
      const id = randomUUID();
      await t.authz.withUser(userId, (tx) => tx.insert(agents).values({ id, userId, name }));
      return id;
    },
    async close() {
      await environments.close();
      await dropletListener?.close();
      await bus.close();
      if (!options.reuseEmulator) await emulator.close();
      if (!options.existing) await t.close();
    },
  };
}

/** Runs Debian's OpenSSH client against a droplet: `echo ok`, with only the given key. */
export async function sshEcho(
  privateKey: string,
  host: string,
  port: number,
): Promise<{ ok: boolean; output: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-ssh-'));
  const keyFile = join(dir, 'id');
  writeFileSync(keyFile, privateKey, { mode: 0o600 });
  chmodSync(keyFile, 0o600);
  try {
    const { stdout } = await run('ssh', [
      '-F',
      '/dev/null',
      '-o',
      'StrictHostKeyChecking=no',
      '-o',
      'UserKnownHostsFile=/dev/null',
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      'PasswordAuthentication=no',
      '-o',
      'BatchMode=yes',
      '-o',
      'ConnectTimeout=5',
      '-o',
      'LogLevel=ERROR',
      '-i',
      keyFile,
      '-p',
      String(port),
      `root@${host}`,
      'echo ok',
    ]);
    return { ok: stdout.trim() === 'ok', output: stdout };
  } catch (error) {
    return { ok: false, output: String((error as { stderr?: string }).stderr ?? error) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
