/**
 * berth's configuration, read once from the environment at start and validated, so a
 * typo fails at start with the variable's name rather than later on a user's request.
 * Every variable, its default and its meaning is listed in docs/configuration.md.
 */
import { resolve } from 'node:path';
import { z } from 'zod';

const port = (fallback: number) => z.coerce.number().int().min(0).max(65_535).default(fallback);
const optional = z
  .string()
  .optional()
  .transform((v) => (v?.trim() ? v.trim() : undefined));

const schema = z.object({
  PORT: port(8080),
  HOST: z.string().default('0.0.0.0'),
  BERTH_DATA_DIR: z.string().default('./.berth'),
  DATABASE_URL: optional,
  BERTH_DB_POOL_SIZE: z.coerce.number().int().min(1).max(500).default(20),
  BERTH_MASTER_KEYS: optional,
  BERTH_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  dbPoolSize: number;
  masterKeys: string | undefined;
  logLevel: z.infer<typeof schema>['BERTH_LOG_LEVEL'];
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  const e = parsed.data;
  return {
    port: e.PORT,
    host: e.HOST,
    dataDir: resolve(e.BERTH_DATA_DIR),
    databaseUrl: e.DATABASE_URL,
    dbPoolSize: e.BERTH_DB_POOL_SIZE,
    masterKeys: e.BERTH_MASTER_KEYS,
    logLevel: e.BERTH_LOG_LEVEL,
  };
}
