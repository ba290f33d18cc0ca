/**
 * Where the embedded sign-in's signing secret comes from. An operator gives it in
 * BERTH_JWT_SECRET. On the embedded database, when none is given, berth creates one in
 * its data directory (`jwt.secret`, mode 0600) on first start and says so, exactly as it
 * does for the master keys; tokens then survive restarts. With a PostgreSQL server there
 * is no such default: several berth processes must verify each other's tokens, so they
 * must share the secret, and berth refuses to start without it.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../config/config.ts';

/** HS256 wants at least as many bytes of key as its output: 32. */
export const MIN_SECRET_LENGTH = 32;

export interface JwtSecretSource {
  secret: string;
  /** Set when this start created the file, so the caller can tell the operator. */
  createdFile: string | null;
}

export function loadJwtSecret(options: {
  secret: string | undefined;
  dataDir: string;
  embeddedDatabase: boolean;
}): JwtSecretSource {
  if (options.secret) {
    if (options.secret.length < MIN_SECRET_LENGTH) {
      throw new ConfigError(`BERTH_JWT_SECRET must be at least ${MIN_SECRET_LENGTH} characters long.`);
    }
    return { secret: options.secret, createdFile: null };
  }
  if (!options.embeddedDatabase) {
    throw new ConfigError(
      'BERTH_JWT_SECRET is required when berth signs users in itself on a PostgreSQL server ' +
        '(DATABASE_URL): every berth process must verify the same tokens. ' +
        'Set it, or use an external identity provider (BERTH_AUTH_PROVIDER=external).',
    );
  }
  const file = join(options.dataDir, 'jwt.secret');
  if (existsSync(file)) {
    if ((statSync(file).mode & 0o077) !== 0) {
      throw new ConfigError(`${file} is readable by other users; run: chmod 600 ${file}`);
    }
    const secret = readFileSync(file, 'utf8').trim();
    if (secret.length < MIN_SECRET_LENGTH) throw new ConfigError(`${file} holds no usable secret.`);
    return { secret, createdFile: null };
  }
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  writeFileSync(file, `${randomBytes(48).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  return { secret: readFileSync(file, 'utf8').trim(), createdFile: file };
}
