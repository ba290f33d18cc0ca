/**
 * The HTTP application: health and readiness now, the API, auth and web UI as they
 * land. Handlers stay thin: they validate, call a service and shape the response.
 */
import { Hono } from 'hono';

export interface HttpDeps {
  /** Resolves when berth can serve requests (database reachable). */
  ready: () => Promise<boolean>;
}

export function createHttpApp(deps: HttpDeps): Hono {
  const app = new Hono();
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    const ok = await deps.ready().catch(() => false);
    return c.json({ status: ok ? 'ready' : 'not ready' }, ok ? 200 : 503);
  });
  return app;
}
