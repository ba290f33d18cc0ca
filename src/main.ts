/**
 * The composition root: the one place that builds berth's parts and wires them, handing
 * each only what it uses. Nothing else constructs services or reads the environment.
 */
import { serve, type ServerType } from '@hono/node-server';
import { sql } from 'drizzle-orm';
import { type Config, loadConfig } from './config/config.ts';
import { loadKeyring } from './config/master-keys.ts';
import { createAuthz } from './db/authz.ts';
import { type DatabaseHandle, openDatabase } from './db/engine.ts';
import { runMigrations } from './db/migrate.ts';
import { createHttpApp } from './http/app.ts';
import { createLogger, type Logger } from './observability/logger.ts';
import { createKeygenPool } from './services/keygen-pool.ts';
import { SshKeyService } from './services/ssh-key-service.ts';
import { assertKeyringCoversVault } from './services/vault-rotation.ts';
import { DbSecretStore, EncryptedSecretStore } from './store/secrets.ts';

export interface Core {
  config: Config;
  logger: Logger;
  database: DatabaseHandle;
  authz: ReturnType<typeof createAuthz>;
  keyring: ReturnType<typeof loadKeyring>['keyring'];
  sshKeys: SshKeyService;
  close(): Promise<void>;
}

/** Opens the database, migrates it, loads and checks the keyring, builds the services. */
export async function buildCore(config: Config, logger: Logger): Promise<Core> {
  const embedded = !config.databaseUrl;
  const database = await openDatabase(
    config.databaseUrl
      ? { kind: 'postgres', url: config.databaseUrl, poolSize: config.dbPoolSize }
      : { kind: 'pglite', dataDir: config.dataDir },
  );
  const closers: (() => Promise<void>)[] = [() => database.close()];
  const close = async () => {
    for (const fn of closers.reverse()) await fn().catch(() => {});
  };
  try {
    await runMigrations(database.engine);
    const { keyring, createdFile } = loadKeyring({ masterKeys: config.masterKeys, dataDir: config.dataDir, embedded });
    if (createdFile) {
      logger.warn({ file: createdFile }, 'created a new master key file: back it up together with the database');
    }
    const authz = createAuthz(database.db);
    await assertKeyringCoversVault(authz, keyring);
    const keygen = createKeygenPool();
    closers.push(async () => keygen.close());
    const secrets = new EncryptedSecretStore(new DbSecretStore(), keyring);
    const sshKeys = new SshKeyService({ authz, secrets, keygen });
    return { config, logger, database, authz, keyring, sshKeys, close };
  } catch (error) {
    await close();
    throw error;
  }
}

export interface RunningBerth {
  url: string;
  stop(): Promise<void>;
}

/** `berth serve`: the core plus the HTTP listener. */
export async function startServer(config: Config, logger: Logger): Promise<RunningBerth> {
  const core = await buildCore(config, logger);
  const app = createHttpApp({
    ready: async () => {
      await core.database.db.execute(sql`select 1`);
      return true;
    },
  });
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, () => resolve(s));
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`;
  logger.info({ url, database: core.database.engine.kind }, 'berth is serving');
  return {
    url,
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await core.close();
    },
  };
}

export function defaultLogger(config: Config): Logger {
  return createLogger({ level: config.logLevel });
}

export { loadConfig };
