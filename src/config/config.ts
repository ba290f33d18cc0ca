/**
 * berth's configuration, read once from the environment at start and validated, so a
 * typo fails at start with the variable's name rather than later on a user's request.
 * Every variable, its default and its meaning is listed in docs/configuration.md.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { DEFAULT_ONBOARDING_RESERVE_PERCENT } from '../digitalocean/client/rate-window.ts';
import { DEFAULT_USER_LIMITS, type UserLimits } from '../domain/limits.ts';

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
  DIGITALOCEAN_TOKEN: optional,
  DIGITALOCEAN_API_URL: optional,
  BERTH_EMULATOR_PORT: port(0),
  BERTH_EMULATOR_SSH_PORT: port(2222),
  BERTH_EMULATOR_ACTIVE_AFTER_MS: z.coerce.number().int().min(0).optional(),
  BERTH_DROPLET_REGION: z.string().default('nyc3'),
  BERTH_DROPLET_SIZE: z.string().default('s-1vcpu-1gb'),
  BERTH_DROPLET_IMAGE: z.string().default('ubuntu-24-04-x64'),
  BERTH_DROPLET_INSTALL_DOCKER: z.stringbool().default(false),
  BERTH_FALLBACK_SSH_KEY_IDS: optional,
  REDIS_URL: optional,
  BERTH_RECONCILE_INTERVAL_MS: z.coerce.number().int().min(1000).default(300_000),
  BERTH_RECONCILE_LEASE_MS: z.coerce.number().int().min(0).default(120_000),
  // Per-user limits (src/domain/limits.ts) and the hour's DigitalOcean calls kept for deploys.
  BERTH_MAX_AGENTS_PER_USER: z.coerce.number().int().min(0).default(DEFAULT_USER_LIMITS.agentsPerUser),
  BERTH_MAX_LIVE_ENVIRONMENTS_PER_USER: z.coerce
    .number()
    .int()
    .min(0)
    .default(DEFAULT_USER_LIMITS.liveEnvironmentsPerUser),
  BERTH_MAX_KEYS_PER_USER: z.coerce.number().int().min(0).default(DEFAULT_USER_LIMITS.keysPerUser),
  BERTH_DIGITALOCEAN_DEPLOY_RESERVE_PERCENT: z.coerce
    .number()
    .min(0)
    .max(90)
    .default(DEFAULT_ONBOARDING_RESERVE_PERCENT),
  // The public API, sign-in and the internal API (src/http, src/auth).
  BERTH_PUBLIC_URL: optional,
  BERTH_AUTH_PROVIDER: z.enum(['embedded', 'external']).optional(),
  BERTH_JWT_SECRET: optional,
  BERTH_JWKS_URL: optional,
  BERTH_JWT_ISSUER: optional,
  BERTH_ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(60).max(86_400).default(3600),
  BERTH_REFRESH_TOKEN_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(300)
    .default(30 * 86_400),
  BERTH_CORS_ORIGINS: optional,
  BERTH_TRUSTED_PROXY_HOPS: z.coerce.number().int().min(0).max(10).default(0),
  BERTH_RATE_LIMIT_USER_PER_MINUTE: z.coerce.number().int().min(0).default(30),
  BERTH_RATE_LIMIT_IP_PER_MINUTE: z.coerce.number().int().min(0).default(120),
  BERTH_BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(10 * 1024 * 1024)
    .default(64 * 1024),
  INTERNAL_PORT: port(8081),
  INTERNAL_HOST: z.string().default('127.0.0.1'),
  BERTH_INTERNAL_API_SECRET: optional,
  // Metrics (src/observability): the bearer token a Prometheus scrape presents.
  BERTH_METRICS_TOKEN: optional,
  // The droplet-facing API (src/http/droplet-app.ts): sshd's login check on droplets.
  BERTH_DROPLET_API_URL: optional,
  // Unset: 8082, or any free port where berth serves the emulator's real hosts itself.
  BERTH_DROPLET_API_PORT: z.coerce.number().int().min(0).max(65_535).optional(),
  BERTH_DROPLET_API_HOST: z.string().default('127.0.0.1'),
  BERTH_DROPLET_LOGIN_GRACE_SECONDS: z.coerce.number().int().min(0).default(3600),
});

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  dbPoolSize: number;
  masterKeys: string | undefined;
  logLevel: z.infer<typeof schema>['BERTH_LOG_LEVEL'];
  digitalocean: {
    token: string | undefined;
    apiUrl: string | undefined;
    emulatorPort: number;
    emulatorSshPort: number;
    emulatorActiveAfterMs: number | undefined;
    /** Percent of each rate window that onboarding calls leave to deploys and teardowns. */
    deployReservePercent: number;
  };
  droplets: { region: string; size: string; image: string; installDocker: boolean };
  /** DigitalOcean key ids (numbers) or fingerprints of the operator's fallback keys. */
  fallbackKeys: (number | string)[];
  redisUrl: string | undefined;
  reconcileIntervalMs: number;
  /** A deploy or teardown untouched this long is taken to have lost its process. */
  reconcileLeaseMs: number;
  /** Per user: agents, live environments and SSH keys (0: no limit). */
  limits: UserLimits;
  http: {
    publicUrl: string | undefined;
    corsOrigins: string[];
    trustedProxyHops: number;
    rateLimits: { userPerMinute: number; ipPerMinute: number };
    bodyLimitBytes: number;
  };
  auth: {
    provider: 'embedded' | 'external';
    jwtSecret: string | undefined;
    jwksUrl: string | undefined;
    jwtIssuer: string | undefined;
    accessTokenTtlSeconds: number;
    refreshTokenTtlSeconds: number;
  };
  internal: { port: number; host: string; secret: string | undefined };
  /** `GET /metrics`: on the internal listener, or on the public one behind this token. */
  metrics: { token: string | undefined };
  /**
   * The droplet-facing API: its URL as droplets reach it (none: droplets made without
   * the emulator get fixed access), its listener, and how long a droplet that cannot
   * reach berth keeps admitting the keys of its last good answer.
   */
  dropletApi: { url: string | undefined; port: number | undefined; host: string; graceSeconds: number };
}

/**
 * Droplets send their credential to this URL, so it must be https, except on loopback
 * and on the local DigitalOcean's own range (198.18.0.0/15), where nothing leaves the
 * machine.
 */
export function checkDropletApiUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`BERTH_DROPLET_API_URL: "${text}" is not a URL.`);
  }
  const local = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\]|198\.1[89]\.\d+\.\d+)$/.test(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && local)) {
    throw new ConfigError(
      'BERTH_DROPLET_API_URL must be https (http only on loopback or the local emulator).',
    );
  }
  if (url.search || url.hash || url.username || url.password) {
    throw new ConfigError('BERTH_DROPLET_API_URL must be a plain URL (no query, fragment or credentials).');
  }
  return url.href.replace(/\/$/, '');
}

function parseFallbackKeys(text: string | undefined): (number | string)[] {
  return (text ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean)
    .map((k) => (/^\d+$/.test(k) ? Number(k) : k));
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
    digitalocean: {
      token: e.DIGITALOCEAN_TOKEN,
      apiUrl: e.DIGITALOCEAN_API_URL,
      emulatorPort: e.BERTH_EMULATOR_PORT,
      emulatorSshPort: e.BERTH_EMULATOR_SSH_PORT,
      emulatorActiveAfterMs: e.BERTH_EMULATOR_ACTIVE_AFTER_MS,
      deployReservePercent: e.BERTH_DIGITALOCEAN_DEPLOY_RESERVE_PERCENT,
    },
    droplets: {
      region: e.BERTH_DROPLET_REGION,
      size: e.BERTH_DROPLET_SIZE,
      image: e.BERTH_DROPLET_IMAGE,
      installDocker: e.BERTH_DROPLET_INSTALL_DOCKER,
    },
    fallbackKeys: parseFallbackKeys(e.BERTH_FALLBACK_SSH_KEY_IDS),
    redisUrl: e.REDIS_URL,
    reconcileIntervalMs: e.BERTH_RECONCILE_INTERVAL_MS,
    reconcileLeaseMs: e.BERTH_RECONCILE_LEASE_MS,
    limits: {
      agentsPerUser: e.BERTH_MAX_AGENTS_PER_USER,
      liveEnvironmentsPerUser: e.BERTH_MAX_LIVE_ENVIRONMENTS_PER_USER,
      keysPerUser: e.BERTH_MAX_KEYS_PER_USER,
    },
    http: {
      publicUrl: e.BERTH_PUBLIC_URL,
      corsOrigins: (e.BERTH_CORS_ORIGINS ?? '')
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean),
      trustedProxyHops: e.BERTH_TRUSTED_PROXY_HOPS,
      rateLimits: {
        userPerMinute: e.BERTH_RATE_LIMIT_USER_PER_MINUTE,
        ipPerMinute: e.BERTH_RATE_LIMIT_IP_PER_MINUTE,
      },
      bodyLimitBytes: e.BERTH_BODY_LIMIT_BYTES,
    },
    auth: {
      // An external provider is implied by a JWKS URL; otherwise berth signs users in itself.
      provider: e.BERTH_AUTH_PROVIDER ?? (e.BERTH_JWKS_URL ? 'external' : 'embedded'),
      jwtSecret: e.BERTH_JWT_SECRET,
      jwksUrl: e.BERTH_JWKS_URL,
      jwtIssuer: e.BERTH_JWT_ISSUER,
      accessTokenTtlSeconds: e.BERTH_ACCESS_TOKEN_TTL_SECONDS,
      refreshTokenTtlSeconds: e.BERTH_REFRESH_TOKEN_TTL_SECONDS,
    },
    internal: { port: e.INTERNAL_PORT, host: e.INTERNAL_HOST, secret: e.BERTH_INTERNAL_API_SECRET },
    metrics: { token: e.BERTH_METRICS_TOKEN },
    dropletApi: {
      url: e.BERTH_DROPLET_API_URL === undefined ? undefined : checkDropletApiUrl(e.BERTH_DROPLET_API_URL),
      port: e.BERTH_DROPLET_API_PORT,
      host: e.BERTH_DROPLET_API_HOST,
      graceSeconds: e.BERTH_DROPLET_LOGIN_GRACE_SECONDS,
    },
  };
}
