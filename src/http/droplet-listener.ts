/**
 * The droplet-facing API's listener, and the URL droplets are told: the configured one,
 * else, with the emulator's real hosts, the address they reach this machine at. With
 * neither there is no listener: droplets get fixed access, and the log says so. The
 * composition root (src/main.ts) hands in what the listener serves.
 */
import type { MiddlewareHandler } from 'hono';
import type { Config } from '../config/config.ts';
import type { Logger } from '../observability/logger.ts';
import type { DropletAccessService } from '../services/droplet-access.ts';
import { createDropletApp } from './droplet-app.ts';
import { clientIpResolver } from './middleware.ts';
import { listen } from './server.ts';
import type { AppEnv } from './types.ts';

export interface DropletListenerDeps {
  access: DropletAccessService;
  /** Where the emulator's real-host droplets reach this machine; null without them. */
  machineAddress: string | null;
  observe: MiddlewareHandler<AppEnv>;
  logger: Logger;
}

/** Starts the listener when droplets can reach it; its stop goes onto `stops`. */
export async function startDropletApi(
  config: Config,
  deps: DropletListenerDeps,
  stops: (() => Promise<void>)[],
): Promise<string | null> {
  const { access, machineAddress: machine, logger } = deps;
  const host = config.dropletApi.url || !machine ? config.dropletApi.host : machine;
  if (!config.dropletApi.url && !machine) {
    logger.warn(
      'the droplet API is not started: BERTH_DROPLET_API_URL is not set, so new droplets keep the keys they are created with',
    );
    return null;
  }
  const app = createDropletApp({
    access,
    clientIp: clientIpResolver(config.http.trustedProxyHops),
    logger,
    observe: deps.observe,
  });
  // For the emulator's droplets any free port will do (they are told the URL), so that
  // several berths on one machine, tests among them, do not contend for one.
  const port = config.dropletApi.port ?? (config.dropletApi.url || !machine ? 8082 : 0);
  const listener = await listen(app.fetch, { port, host });
  stops.push(() => listener.close());
  const url = config.dropletApi.url ?? listener.url;
  access.serveAt(url);
  return url;
}
