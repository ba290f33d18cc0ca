/** `berth migrate`: applies pending migrations and exits; running it twice changes nothing. */
import { Command } from 'commander';
import type { Config } from '../config/config.ts';
import { madePrivateMessage } from '../db/data-dir.ts';
import { openDatabase } from '../db/engine.ts';
import { runMigrations } from '../db/migrate.ts';

export function migrateCommand(loadConfig: () => Config): Command {
  return new Command('migrate')
    .description('Apply pending database migrations (berth serve also does this at start).')
    .action(async () => {
      const config = loadConfig();
      const database = await openDatabase(
        config.databaseUrl
          ? { kind: 'postgres', url: config.databaseUrl }
          : { kind: 'pglite', dataDir: config.dataDir },
      );
      if (database.madePrivate) process.stderr.write(`berth: ${madePrivateMessage(database.madePrivate)}\n`);
      try {
        await runMigrations(database.engine);
        process.stdout.write(`migrations applied (${database.engine.kind})\n`);
      } finally {
        await database.close();
      }
    });
}
