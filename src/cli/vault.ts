/**
 * `berth vault`: master key operations. `rotate` re-wraps every data key under the
 * newest master key (the first in BERTH_MASTER_KEYS), online and resumable, on its own
 * connection or, when a serving embedded berth holds the data directory, through that
 * berth; `new-key` prints a fresh key entry to put in front of the keyring.
 */
import { Command, InvalidArgumentError } from 'commander';
import type { Config } from '../config/config.ts';
import { loadKeyring } from '../config/master-keys.ts';
import { type Authz, createAuthz } from '../db/authz.ts';
import { madePrivateMessage } from '../db/data-dir.ts';
import { openDatabase } from '../db/engine.ts';
import { DirectoryLockedError } from '../db/lock.ts';
import { runMigrations } from '../db/migrate.ts';
import { formatMasterKey, generateMasterKey, type Keyring } from '../domain/vault/keyring.ts';
import { storeDigitalOceanToken } from '../services/operator-secrets.ts';
import { type RotationProgress, rotateVault } from '../services/vault-rotation.ts';
import { DbSecretStore, EncryptedSecretStore } from '../store/secrets.ts';
import { createProgress } from './progress.ts';
import { rotateThroughServingBerth } from './vault-remote.ts';

/** The keyring as configured: BERTH_MASTER_KEYS, or embedded, the data directory's key file. */
function keyringFor(config: Config): Keyring {
  return loadKeyring({
    masterKeys: config.masterKeys,
    dataDir: config.dataDir,
    embedded: !config.databaseUrl,
  }).keyring;
}

/** Opens and migrates the database, runs `fn`, closes the database. */
async function withDatabase<T>(config: Config, fn: (authz: Authz) => Promise<T>): Promise<T> {
  const database = await openDatabase(
    config.databaseUrl
      ? { kind: 'postgres', url: config.databaseUrl }
      : { kind: 'pglite', dataDir: config.dataDir },
  );
  if (database.madePrivate) process.stderr.write(`berth: ${madePrivateMessage(database.madePrivate)}\n`);
  try {
    await runMigrations(database.engine);
    return await fn(createAuthz(database));
  } finally {
    await database.close();
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const MAX_BATCH_SIZE = 10_000;

/**
 * `--batch-size`: a whole number of secrets from 1 to 10,000. Anything else is refused
 * before the database is opened; 0, a negative number or a word would otherwise select
 * no rows and end as a silent "0 secret(s) re-wrapped".
 */
export function parseBatchSize(value: string): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!(n >= 1 && n <= MAX_BATCH_SIZE)) {
    throw new InvalidArgumentError(`It must be a whole number from 1 to ${MAX_BATCH_SIZE}.`);
  }
  return n;
}

export function vaultCommand(loadConfig: () => Config): Command {
  const vault = new Command('vault').description('Manage the master keys that protect stored private keys.');
  vault
    .command('rotate')
    .description(
      'Re-wrap every stored secret under the newest master key. Online, resumable after a kill; a second run changes nothing.',
    )
    .option('--batch-size <n>', 'secrets per transaction', parseBatchSize, 200)
    .action(async (options: { batchSize: number }) => {
      const config = loadConfig();
      const keyring = keyringFor(config);
      const progress = createProgress(`re-wrapping under ${keyring.current.id}`);
      const onProgress = ({ done, total }: RotationProgress) => progress.update(done, total);
      const result = await withDatabase(config, (authz) =>
        rotateVault(authz, keyring, { batchSize: options.batchSize, onProgress }),
      )
        .catch((error: unknown) => {
          // Embedded, a serving berth holds the only way into the database: it rotates.
          if (!(error instanceof DirectoryLockedError) || config.databaseUrl) throw error;
          process.stderr.write(`berth (pid ${error.pid}) is serving ${error.dir}: the rotation runs in it\n`);
          return rotateThroughServingBerth({
            dataDir: config.dataDir,
            holderPid: error.pid,
            secret: config.internal.secret,
            keyId: keyring.current.id,
            batchSize: options.batchSize,
            onProgress,
          });
        })
        .finally(() => progress.stop());
      process.stdout.write(`${result.rewrapped} secret(s) re-wrapped under ${result.keyId}\n`);
      if (result.failed.length > 0) {
        process.stderr.write(
          `${result.failed.length} secret(s) could not be opened and were left as they are:\n` +
            result.failed.map((f) => `  ${f.id} (${f.reason})\n`).join(''),
        );
        process.exitCode = 1;
      }
    });
  vault
    .command('new-key')
    .description('Print a new random master key entry ("id:base64") for BERTH_MASTER_KEYS.')
    .option('--id <id>', 'the key id', `k${new Date().toISOString().slice(0, 10).replaceAll('-', '')}`)
    .action((options: { id: string }) => {
      process.stdout.write(`${formatMasterKey(generateMasterKey(options.id))}\n`);
    });
  vault
    .command('set-digitalocean-token')
    .description(
      'Store the DigitalOcean API token in the vault, read from standard input (e.g. `berth vault set-digitalocean-token < token.txt`). Used when DIGITALOCEAN_TOKEN is not set.',
    )
    .action(() => {
      const config = loadConfig();
      const keyring = keyringFor(config);
      return withDatabase(config, async (authz) => {
        const secrets = new EncryptedSecretStore(new DbSecretStore(), keyring);
        await storeDigitalOceanToken(authz, secrets, await readStdin());
        process.stdout.write(
          'the DigitalOcean token is stored in the vault; running berths pick it up within a minute\n',
        );
      });
    });
  return vault;
}
