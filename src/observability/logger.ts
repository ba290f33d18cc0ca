/**
 * berth's structured logger (pino, JSON lines). Secrets are redacted by field name, so a
 * field named like a secret never reaches a log line whatever object it was logged with,
 * at the top of the object or nested in it; the rule of the code is still to never log secrets
 * in the first place (test/observability/log-secrets.test.ts runs berth's flows at debug
 * level and searches every line). Lines about a request carry its id, which the code
 * logging them is handed (docs/decisions.md, "Request ids passed down").
 */
import { type Logger, pino } from 'pino';

export type { Logger };

/** Field names that hold secrets wherever they appear (compared without case). */
export const SECRET_FIELDS = [
  'privateKey',
  'private_key',
  'privateKeyPem',
  'passphrase',
  'token',
  'access_token',
  'refresh_token',
  'accessToken',
  'refreshToken',
  'password',
  'newPassword',
  'new_password',
  'encryptedPassword',
  'encrypted_password',
  'authorization',
  'cookie',
  'set-cookie',
  'apikey',
  'secret',
  'jwtSecret',
  'internalSecret',
  'x-internal-api-secret',
  'masterKey',
  'masterKeys',
  'digitaloceanToken',
];

const SECRET_KEYS = new Set(SECRET_FIELDS.map((field) => field.toLowerCase()));
const CENSOR = '[redacted]';
/** How far into nested objects fields are checked: a request's headers are three down. */
const MAX_DEPTH = 3;

function isPlain(value: unknown): value is Record<string, unknown> | unknown[] {
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) return true;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * The object with every field named like a secret replaced, down to MAX_DEPTH levels of
 * plain objects and arrays. Copies only what changes and returns the object itself when
 * nothing does, so a line without secrets costs a walk over its keys and nothing more.
 * (pino's own path redaction is exact-path only, and its wildcards cost every log line
 * several times this.)
 */
export function redactSecrets<T>(value: T, depth = 0): T {
  if (!isPlain(value) || depth > MAX_DEPTH) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((item, i) => {
      const redacted = redactSecrets(item, depth + 1);
      if (redacted !== item) {
        copy ??= [...value];
        copy[i] = redacted;
      }
    });
    return (copy ?? value) as T;
  }
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(value)) {
    const item = value[key];
    const redacted = SECRET_KEYS.has(key.toLowerCase())
      ? item === undefined || item === null
        ? item
        : CENSOR
      : redactSecrets(item, depth + 1);
    if (redacted !== item) {
      copy ??= { ...value };
      copy[key] = redacted;
    }
  }
  return (copy ?? value) as T;
}

export function createLogger(options: { level: string; destination?: pino.DestinationStream }): Logger {
  return pino(
    {
      level: options.level,
      base: { service: 'berth' },
      formatters: { log: (object) => redactSecrets(object) },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination,
  );
}
