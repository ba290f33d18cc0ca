/**
 * Where the master keyring comes from. An operator gives it in BERTH_MASTER_KEYS. In the
 * embedded default, when none is given, berth creates a key file (mode 0600) in its data
 * directory on first start and says so, since that file must be backed up together with
 * the database. With a PostgreSQL server there is no such default: several processes
 * must share one keyring, so berth refuses to start without one.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatMasterKey, generateMasterKey, type Keyring, parseKeyring } from '../domain/vault/keyring.ts';
import { ConfigError } from './config.ts';

export interface KeyringSource {
  keyring: Keyring;
  /** Set when this start created the key file, so the caller can tell the operator. */
  createdFile: string | null;
  origin: 'environment' | 'file';
}

export function loadKeyring(options: {
  masterKeys: string | undefined;
  dataDir: string;
  embedded: boolean;
}): KeyringSource {
  if (options.masterKeys) {
    return { keyring: parseKeyring(options.masterKeys), createdFile: null, origin: 'environment' };
  }
  if (!options.embedded) {
    throw new ConfigError(
      'BERTH_MASTER_KEYS is required when berth uses a PostgreSQL server (DATABASE_URL): ' +
        'every berth process must share the same master keys. Generate one with `berth vault new-key`.',
    );
  }
  const file = join(options.dataDir, 'master.keys');
  if (existsSync(file)) {
    const mode = statSync(file).mode & 0o077;
    if (mode !== 0) {
      throw new ConfigError(`${file} is readable by other users; run: chmod 600 ${file}`);
    }
    return { keyring: parseKeyring(readFileSync(file, 'utf8')), createdFile: null, origin: 'file' };
  }
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const key = generateMasterKey(`k${new Date().toISOString().slice(0, 10).replaceAll('-', '')}`);
  writeFileSync(
    file,
    `# berth master keys: newest first. Back this file up with the database; without it\n# the private keys in the vault cannot be decrypted.\n${formatMasterKey(key)}\n`,
    { mode: 0o600, flag: 'wx' },
  );
  return { keyring: parseKeyring(readFileSync(file, 'utf8')), createdFile: file, origin: 'file' };
}
