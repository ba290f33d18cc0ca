/**
 * `berth vault`: master key operations. `rotate` re-wraps every data key under the
 * newest master key (the first in BERTH_MASTER_KEYS), online and resumable; `new-key`
 * prints a fresh key entry to put in front of the keyring.
 */
import { Command } from 'commander';
import type { Config } from '../config/config.ts';
import { loadKeyring } from '../config/master-keys.ts';
import { createAuthz } from '../db/authz.ts';
import { openDatabase } from '../db/engine.ts';
import { runMigrations } from '../db/migrate.ts';
import { formatMasterKey, generateMasterKey } from '../domain/vault/keyring.ts';
import { rotateVault } from '../services/vault-rotation.ts';
import { createProgress } from './progress.ts';

export function vaultCommand(loadConfig: () => Config): Command {
  const vault = new Command('vault').description('Manage the master keys that protect stored private keys.');
  vault
    .command('rotate')
    .description(
      'Re-wrap every stored secret under the newest master key. Online, resumable after a kill; a second run changes nothing.',
    )
    .option('--batch-size <n>', 'secrets per transaction', '200')
    .action(async (options: { batchSize: string }) => {
      const config = loadConfig();
      const database = await openDatabase(
        config.databaseUrl ? { kind: 'postgres', url: config.databaseUrl } : { kind: 'pglite', dataDir: config.dataDir },
      );
      try {
        await runMigrations(database.engine);
        const { keyring } = loadKeyring({
          masterKeys: config.masterKeys,
          dataDir: config.dataDir,
          embedded: !config.databaseUrl,
        });
        const progress = createProgress(`re-wrapping under ${keyring.current.id}`);
        const result = await rotateVault(createAuthz(database.db), keyring, {
          batchSize: Number.parseInt(options.batchSize, 10),
          onProgress: ({ done, total }) => progress.update(done, total),
        });
        progress.stop();
        process.stdout.write(`${result.rewrapped} secret(s) re-wrapped; every secret is now under ${result.keyId}\n`);
      } finally {
        await database.close();
      }
    });
  vault
    .command('new-key')
    .description('Print a new random master key entry ("id:base64") for BERTH_MASTER_KEYS.')
    .option('--id <id>', 'the key id', `k${new Date().toISOString().slice(0, 10).replaceAll('-', '')}`)
    .action((options: { id: string }) => {
      process.stdout.write(`${formatMasterKey(generateMasterKey(options.id))}\n`);
    });
  return vault;
}
