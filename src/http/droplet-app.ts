/**
 * berth's droplet-facing API, served on a listener of its own (BERTH_DROPLET_API_*),
 * apart from the public API, because its callers are machines with one narrow question:
 * sshd's login check on a droplet asking which keys may log in as a user. One route,
 * no bodies, no cookies, no CORS. The droplet's credential comes as a bearer token; a
 * missing, unknown or revoked one gets a bare 401, with nothing said about why.
 */
import { Hono, type MiddlewareHandler } from 'hono';
import { AUTHORIZED_KEYS_PATH } from '../domain/environments/login-check.ts';
import type { Logger } from '../observability/logger.ts';
import type { DropletAccessService } from '../services/droplet-access.ts';
import type { ClientIpResolver } from './middleware.ts';
import { requestIds } from './middleware.ts';
import type { AppEnv } from './types.ts';

export interface DropletAppDeps {
  access: Pick<DropletAccessService, 'authorizedKeys'>;
  clientIp: ClientIpResolver;
  logger: Logger;
  /** Runs around every request once its id is set: the access log and HTTP metrics. */
  observe?: MiddlewareHandler<AppEnv>;
}

const LOGIN = /^[a-z_][a-z0-9_-]{0,31}$/;

export function createDropletApp(deps: DropletAppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('*', requestIds());
  if (deps.observe) app.use('*', deps.observe);
  app.get(AUTHORIZED_KEYS_PATH, async (c) => {
    const login = c.req.query('user') ?? '';
    const answer = await deps.access.authorizedKeys(
      c.req.header('authorization'),
      LOGIN.test(login) ? login : '',
      deps.clientIp(c),
    );
    if (answer.status === 401) {
      return c.body(null, 401, { 'www-authenticate': 'Bearer', 'cache-control': 'no-store' });
    }
    if (answer.status === 429) {
      return c.body(null, 429, {
        'retry-after': String(answer.retryAfterSeconds),
        'cache-control': 'no-store',
      });
    }
    // The droplet keeps the last answer itself; nothing between it and berth may.
    return c.body(answer.body, 200, {
      'content-type': 'text/plain; charset=utf-8',
      'cache-control': 'private, no-store',
    });
  });
  app.all(AUTHORIZED_KEYS_PATH, (c) => c.body(null, 405, { allow: 'GET, HEAD' }));
  app.notFound((c) => c.body(null, 404));
  // A failure here (the database unreachable) is berth not answering: the droplet falls
  // back on its last good answer for the grace period, as when berth is down.
  app.onError((error, c) => {
    deps.logger.error({ err: error }, 'a droplet key lookup failed');
    return c.body(null, 503, { 'retry-after': '1' });
  });
  return app;
}
