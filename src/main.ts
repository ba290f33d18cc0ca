/**
 * The composition root: the one place that builds berth's parts and wires them, handing
 * each only what it uses. Nothing else constructs services or reads the environment.
 */
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { Redis } from 'ioredis';
import { createAuthModule } from './auth/setup.ts';
import { type Config, ConfigError, loadConfig } from './config/config.ts';
import { loadKeyring } from './config/master-keys.ts';
import { createAuthz } from './db/authz.ts';
import { madePrivateMessage } from './db/data-dir.ts';
import { type DatabaseHandle, openDatabase } from './db/engine.ts';
import { runMigrations } from './db/migrate.ts';
import { DIGITALOCEAN_LIMITS } from './digitalocean/client/index.ts';
import { PgRateBudget } from './digitalocean/pg-rate-budget.ts';
import { setupDigitalOcean } from './digitalocean/setup.ts';
import { AGENT_USER } from './domain/environments/cloud-init.ts';
import { createHttpApp } from './http/app.ts';
import { startDropletApi } from './http/droplet-listener.ts';
import { forgetInternalAddress, recordInternalAddress } from './http/internal-address.ts';
import { createInternalApp } from './http/internal-app.ts';
import { clientIpResolver } from './http/middleware.ts';
import { type FetchHandler, listen } from './http/server.ts';
import { webUiRoutes } from './http/static.ts';
import { onboardUserJob } from './jobs/onboard-user.ts';
import { JobQueue } from './jobs/queue.ts';
import { RECONCILE_ENVIRONMENTS_JOB, reconcileEnvironmentsJob } from './jobs/reconcile-environments.ts';
import { metricsExposure } from './observability/endpoint.ts';
import { observeRequests } from './observability/http.ts';
import { berthVersion, instrumentCore } from './observability/instrument.ts';
import { createLogger, type Logger } from './observability/logger.ts';
import { createMetrics, type Metrics } from './observability/metrics.ts';
import { createObservers, type Observers } from './observability/observers.ts';
import { AgentService } from './services/agent-service.ts';
import type { EnvironmentService, OnboardingService } from './services/contracts.ts';
import { DeploymentKeyService } from './services/deployment-keys.ts';
import { DropletAccessService } from './services/droplet-access.ts';
import { createEnvironmentModule, type EnvironmentModule } from './services/environments/index.ts';
import { MemoryKeyCache, RedisKeyCache, TieredKeyCache } from './services/key-cache.ts';
import { startKeyChangeBus } from './services/key-invalidation.ts';
import { KeyListCache } from './services/key-list-cache.ts';
import { KeyRegistrar } from './services/key-registration.ts';
import { createKeygenPool } from './services/keygen-pool.ts';
import { UserOnboardingService } from './services/onboarding-service.ts';
import { readDigitalOceanToken, vaultTokenProvider } from './services/operator-secrets.ts';
import { SshKeyService } from './services/ssh-key-service.ts';
import { assertKeyringCoversVault, vaultRotation } from './services/vault-rotation.ts';
import { readInstallation } from './store/installation.ts';
import { DbSecretStore, EncryptedSecretStore } from './store/secrets.ts';

export interface Core {
  config: Config;
  logger: Logger;
  database: DatabaseHandle;
  authz: ReturnType<typeof createAuthz>;
  keyring: ReturnType<typeof loadKeyring>['keyring'];
  sshKeys: SshKeyService;
  deploymentKeys: DeploymentKeyService;
  /** Droplets' login checks; `serveAt` once the droplet API listens. */
  dropletAccess: DropletAccessService;
  environments: EnvironmentModule;
  digitalocean: Awaited<ReturnType<typeof setupDigitalOcean>>;
  /** The durable job queue; define jobs on it before `startJobs`. */
  jobs: JobQueue;
  onboarding: UserOnboardingService;
  /** This process's metrics (served at /metrics by berth serve) and what records into them. */
  metrics: Metrics;
  observers: Observers;
  /** Starts running jobs: call once every part has defined its jobs. */
  startJobs(): Promise<void>;
  close(): Promise<void>;
}

/** Opens the database, migrates it, loads and checks the keyring, builds the services. */
export async function buildCore(config: Config, logger: Logger): Promise<Core> {
  const embedded = !config.databaseUrl;
  const metrics = createMetrics({ version: berthVersion() });
  const observers = createObservers(metrics);
  const database = await openDatabase(
    config.databaseUrl
      ? { kind: 'postgres', url: config.databaseUrl, poolSize: config.dbPoolSize }
      : { kind: 'pglite', dataDir: config.dataDir },
  );
  if (database.madePrivate) {
    logger.warn({ dir: database.madePrivate.dir }, madePrivateMessage(database.madePrivate));
  }
  const closers: (() => Promise<void>)[] = [() => database.close()];
  const close = async () => {
    for (const fn of closers.reverse()) await fn().catch(() => {});
  };
  try {
    await runMigrations(database.engine);
    const { keyring, createdFile } = loadKeyring({
      masterKeys: config.masterKeys,
      dataDir: config.dataDir,
      embedded,
    });
    if (createdFile) {
      logger.warn(
        { file: createdFile },
        'created a new master key file: back it up together with the database',
      );
    }
    const authz = createAuthz(database);
    await assertKeyringCoversVault(authz, keyring);
    const keygen = createKeygenPool();
    closers.push(async () => keygen.close());
    const secrets = new EncryptedSecretStore(new DbSecretStore(), keyring, observers.vault);
    // The deployment key cache: memory, plus Redis when configured; every process drops
    // a user's entry when their keys change (NOTIFY, published in the changing transaction).
    const redis = config.redisUrl
      ? new Redis(config.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 2 })
      : null;
    if (redis) closers.push(async () => void redis.disconnect());
    redis?.on('error', (error) => logger.warn({ err: error }, 'Redis connection error'));
    const shared = redis ? new RedisKeyCache(redis) : null;
    const onCacheError = (error: unknown) => logger.warn({ err: error }, 'the shared key cache failed');
    const cache = new TieredKeyCache(new MemoryKeyCache(), shared, observers.cache, onCacheError);
    // Each user's key list, for the API's reads; kept fresh by the same bus, and off
    // while the bus cannot hear changes.
    const keyLists = new KeyListCache({}, observers.keyLists);
    // Droplets' login checks read the same key lists, and wait on the bus's fence so that
    // no process answers a key whose DELETE has returned on another.
    const dropletAccess = new DropletAccessService({
      authz,
      keyLists,
      fence: () => bus.fence(),
      logger,
      graceSeconds: config.dropletApi.graceSeconds,
      agentUser: AGENT_USER,
      observer: observers.dropletAccess,
    });
    const bus = await startKeyChangeBus({
      engine: database.engine,
      cache,
      shared,
      onError: onCacheError,
      onChange: (userId) => {
        keyLists.invalidate(userId);
        dropletAccess.invalidate(userId);
      },
      onListening: (listening) => {
        observers.keyChangesHeard(listening);
        keyLists.listening(listening);
        dropletAccess.listening(listening);
        if (listening) logger.info('key changes are heard again: the key list cache is back on');
        else logger.warn('key changes cannot be heard (LISTEN lost): the key list cache is off until then');
      },
    });
    observers.keyChangesHeard(true);
    closers.push(() => bus.close());
    const sshKeys = new SshKeyService({
      authz,
      secrets,
      keygen,
      onKeysChanged: (userId, tx) => bus.publish(userId, tx),
      keyLists,
      maxKeysPerUser: config.limits.keysPerUser,
    });
    // The DigitalOcean token: from the environment, else from the vault, else none (the
    // local emulator). It is never logged.
    const vaultToken = config.digitalocean.token ? null : await readDigitalOceanToken(authz, secrets);
    const token = config.digitalocean.token ?? vaultToken;
    const rateLimits = {
      ...DIGITALOCEAN_LIMITS,
      onboardingReservePercent: config.digitalocean.deployReservePercent,
    };
    const rateBudget = new PgRateBudget({ authz, token: token ?? 'local-emulator', limits: rateLimits });
    const digitalocean = await setupDigitalOcean({
      token: config.digitalocean.token
        ? () => config.digitalocean.token as string
        : vaultToken
          ? vaultTokenProvider(authz, secrets, vaultToken)
          : null,
      apiUrl: config.digitalocean.apiUrl,
      rateBudget,
      logger,
      observer: observers.digitalocean,
      emulator: {
        port: config.digitalocean.emulatorPort,
        sshPort: config.digitalocean.emulatorSshPort,
        ...(config.digitalocean.emulatorActiveAfterMs !== undefined
          ? { activeAfterMs: config.digitalocean.emulatorActiveAfterMs }
          : {}),
      },
    });
    closers.push(() => digitalocean.close());
    const registrar = new KeyRegistrar({ authz, registry: digitalocean.client });
    // Background jobs share the database: they survive restarts and every berth process
    // on it runs them. Closed before what their handlers use (closers run in reverse).
    const jobs = new JobQueue({ engine: database.engine, logger, observer: observers.jobs });
    closers.push(() => jobs.close());
    const onboarding = new UserOnboardingService({ authz, sshKeys, registrar, queue: jobs, logger });
    jobs.define(onboardUserJob(onboarding));
    const deploymentKeys = new DeploymentKeyService({
      authz,
      readyKeys: (userId, ctx) => onboarding.prepareFirstDeployment(userId, ctx),
      cache,
      fallbackKeys: config.fallbackKeys,
      logger,
      observer: observers.deployKeys,
    });
    const installation = await authz.asService('read the installation id', (tx) => readInstallation(tx));
    if (installation.created) {
      logger.warn(
        { installationId: installation.id },
        'made a new installation id, the database having none: droplets tagged with an earlier one are no longer this installation’s',
      );
    }
    const environments = createEnvironmentModule({
      authz,
      droplets: digitalocean.client,
      keys: deploymentKeys,
      // The agent's login exists where droplets run berth's user_data; light emulated
      // droplets run nothing, so only root is there.
      settings: {
        ...config.droplets,
        sshPort: digitalocean.sshPort,
        sshUser: digitalocean.runsUserData ? AGENT_USER : 'root',
      },
      logger,
      instanceId: randomUUID().slice(0, 8),
      installationId: installation.id,
      maxLiveEnvironmentsPerUser: config.limits.liveEnvironmentsPerUser,
      leaseMs: config.reconcileLeaseMs,
      observer: observers.deploys,
      access: dropletAccess,
    });
    closers.push(() => environments.close());
    jobs.define(reconcileEnvironmentsJob(environments.reconciler, config.reconcileIntervalMs));
    const stopInstrumenting = instrumentCore(
      metrics,
      {
        authz,
        rateBudget: { stats: () => rateBudget.stats(), limits: rateLimits },
        digitalocean: digitalocean.client,
        jobs,
      },
      logger,
    );
    closers.push(async () => stopInstrumenting());
    return {
      config,
      logger,
      database,
      authz,
      keyring,
      sshKeys,
      deploymentKeys,
      dropletAccess,
      environments,
      digitalocean,
      jobs,
      onboarding,
      metrics,
      observers,
      startJobs: () => jobs.start(),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

export interface RunningBerth {
  url: string;
  /** The internal API's URL, or null when no BERTH_INTERNAL_API_SECRET is configured. */
  internalUrl: string | null;
  stop(): Promise<void>;
}

/** Parts that replace what the core would use, for tests. */
export interface ServerParts {
  environments?: EnvironmentService;
  onboarding?: OnboardingService;
}

/**
 * `berth serve`: the core plus the public listener and, when configured, the internal one.
 * Each request's access line carries its id (src/observability/http.ts).
 */
export async function startServer(
  config: Config,
  logger: Logger,
  parts: ServerParts = {},
): Promise<RunningBerth> {
  if (config.metrics.token !== undefined && config.metrics.token.length < 32) {
    throw new ConfigError('BERTH_METRICS_TOKEN must be at least 32 characters long.');
  }
  const core = await buildCore(config, logger);
  // Embedded, this process now holds the data directory: an internal address recorded
  // there is a killed predecessor's (often with this very pid, in a container), and a
  // `berth vault rotate` reading it would knock where nothing answers.
  if (!config.databaseUrl) forgetInternalAddress(config.dataDir);
  const stops: (() => Promise<void>)[] = [() => core.close()];
  const stop = async () => {
    for (const fn of stops.reverse()) await fn().catch(() => {});
  };
  try {
    // The public listener is bound first because the embedded issuer's default names the
    // URL it listens on; requests arriving before the application is built get a 503.
    let app: { fetch: FetchHandler } | undefined;
    const publicListener = await listen(
      (request, env) => (app ? app.fetch(request, env) : new Response('berth is starting', { status: 503 })),
      { port: config.port, host: config.host },
    );
    stops.push(() => publicListener.close());
    const dropletApiUrl = await startDropletApi(
      config,
      {
        access: core.dropletAccess,
        machineAddress: core.digitalocean.machineAddress,
        observe: observeRequests({ logger, observer: core.observers.http('droplet') }),
        logger,
      },
      stops,
    );
    await core.startJobs();
    const onboarding = parts.onboarding ?? core.onboarding;
    const registration = onboarding;
    const environments = parts.environments ?? core.environments.service;
    const auth = createAuthModule({
      settings: config.auth,
      publicUrl: config.http.publicUrl ?? publicListener.url,
      dataDir: config.dataDir,
      embeddedDatabase: !config.databaseUrl,
      authz: core.authz,
      registration,
    });
    if (auth.createdSecretFile) {
      logger.warn(
        { file: auth.createdSecretFile },
        'created a new token signing secret file: back it up with the database',
      );
    }
    // Metrics live on the internal listener; without it, on the public one behind a token.
    const metrics = metricsExposure({
      registry: core.metrics.registry,
      internalSecret: config.internal.secret,
      metricsToken: config.metrics.token,
    });
    const webUi = webUiRoutes({ root: fileURLToPath(new URL('../web/dist', import.meta.url)) });
    app = createHttpApp({
      logger,
      observe: observeRequests({ logger, observer: core.observers.http('public') }),
      ready: async () => {
        await core.database.db.execute(sql`select 1`);
        return true;
      },
      sshKeys: core.sshKeys,
      agents: new AgentService({
        authz: core.authz,
        logger,
        maxAgentsPerUser: config.limits.agentsPerUser,
      }),
      environments,
      onboarding,
      auth: { verifier: auth.verifier, provisionUser: auth.provisionUser, embedded: auth.embedded },
      rateLimits: config.http.rateLimits,
      corsOrigins: config.http.corsOrigins,
      bodyLimitBytes: config.http.bodyLimitBytes,
      clientIp: clientIpResolver(config.http.trustedProxyHops),
      // The web UI built by `vite build` on install (see docs/decisions.md), served at `/`.
      extraRoutes: (routes) => {
        metrics.public?.(routes);
        webUi(routes);
      },
    });
    let internalUrl: string | null = null;
    if (config.internal.secret) {
      if (config.internal.secret.length < 32) {
        throw new ConfigError('BERTH_INTERNAL_API_SECRET must be at least 32 characters long.');
      }
      const internalApp = createInternalApp({
        secret: config.internal.secret,
        logger,
        environments,
        registration,
        vault: vaultRotation(core.authz, core.keyring),
        observe: observeRequests({ logger, observer: core.observers.http('internal') }),
        extraRoutes: metrics.internal,
        selfAuthenticatedPaths: metrics.selfAuthenticatedPaths,
      });
      const internal = await listen(internalApp.fetch, {
        port: config.internal.port,
        host: config.internal.host,
      });
      stops.push(() => internal.close());
      internalUrl = internal.url;
      // Embedded, no other process can open the database: `berth vault rotate` finds this
      // berth's internal API through the data directory and has it rotate instead.
      if (!config.databaseUrl) stops.push(recordInternalAddress(config.dataDir, internal.url));
    } else {
      logger.warn('the internal API is not started: BERTH_INTERNAL_API_SECRET is not set');
      if (!metrics.public) logger.warn('metrics are not served: set BERTH_METRICS_TOKEN to serve them here');
    }
    logger.info(
      {
        url: publicListener.url,
        internalUrl,
        metrics: metrics.url(publicListener.url, internalUrl),
        auth: auth.mode,
        database: core.database.engine.kind,
        dropletApi: dropletApiUrl,
      },
      'berth is serving',
    );
    // The reconciler runs on the queue's schedule; this run at start takes up whatever
    // a crash left behind without waiting for the next slot.
    await core.jobs.send(RECONCILE_ENVIRONMENTS_JOB, {});
    return { url: publicListener.url, internalUrl, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

export function defaultLogger(config: Config): Logger {
  return createLogger({ level: config.logLevel });
}

export { loadConfig };
