/**
 * berth's structured logger (pino, JSON lines). Secrets are redacted by path, so a field
 * named like a secret never reaches a log line whatever object it was logged with; the
 * rule of the code is still to never log secrets in the first place.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'privateKey',
  'private_key',
  '*.privateKey',
  '*.private_key',
  'token',
  '*.token',
  'password',
  '*.password',
  'authorization',
  '*.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-internal-api-secret"]',
  'masterKeys',
  '*.masterKeys',
  'access_token',
  'refresh_token',
  '*.access_token',
  '*.refresh_token',
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
