/**
 * berth's structured logger (pino, JSON lines). Secrets are redacted by path, so a field
 * named like a secret never reaches a log line whatever object it was logged with, at the
 * top of the object or one level down; the rule of the code is still to never log secrets
 * in the first place (test/observability/log-secrets.test.ts runs berth's flows at debug
 * level and searches every line). Lines written while a request is served carry its id
 * (request-context.ts).
 */
import { type Logger, pino } from 'pino';

export type { Logger };

/** Field names that hold secrets wherever they appear. */
const SECRET_FIELDS = [
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
  'apikey',
  'apiKey',
  'secret',
  'jwtSecret',
  'internalSecret',
  'masterKey',
  'masterKeys',
  'digitaloceanToken',
];

export const REDACT_PATHS = [
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((field) => `*.${field}`),
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers.apikey',
  'req.headers["x-internal-api-secret"]',
  'headers.authorization',
  'headers.cookie',
  'headers.apikey',
  'headers["x-internal-api-secret"]',
];

export function createLogger(options: { level: string; destination?: pino.DestinationStream }): Logger {
  return pino(
    {
      level: options.level,
      base: { service: 'berth' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination,
  );
}
