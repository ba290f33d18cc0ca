/**
 * The `berth` command line. Each subcommand builds only what it needs through the
 * composition root and exits non-zero with a plain message (no stack) on a known error.
 */
import { Command } from 'commander';
import { ConfigError, loadConfig } from '../config/config.ts';
import { DataDirectoryError } from '../db/data-dir.ts';
import { DirectoryLockedError } from '../db/lock.ts';
import { emulatorCommand } from '../digitalocean/emulator/cli.ts';
import { BerthError } from '../domain/errors.ts';
import { KeyringError } from '../domain/vault/keyring.ts';
import { jobsCommand } from './jobs.ts';
import { migrateCommand } from './migrate.ts';
import { reconcileCommand } from './reconcile.ts';
import { serveCommand } from './serve.ts';
import { vaultCommand } from './vault.ts';

const program = new Command()
  .name('berth')
  .description('Per-user SSH keys and DigitalOcean tool environments for AI-agent platforms.')
  .showHelpAfterError();

program.addCommand(serveCommand(loadConfig), { isDefault: false });
program.addCommand(migrateCommand(loadConfig));
program.addCommand(vaultCommand(loadConfig));
program.addCommand(jobsCommand(loadConfig));
program.addCommand(emulatorCommand());
program.addCommand(reconcileCommand(loadConfig));

try {
  await program.parseAsync(process.argv);
} catch (error) {
  const known =
    error instanceof BerthError ||
    error instanceof ConfigError ||
    error instanceof DirectoryLockedError ||
    error instanceof DataDirectoryError ||
    error instanceof KeyringError;
  process.stderr.write(
    `berth: ${known ? (error as Error).message : String((error as Error).stack ?? error)}\n`,
  );
  process.exitCode = 1;
}
