/**
 * What berth records about each HTTP request: one access line, under the request's id,
 * when it is answered, and the method, route pattern, status and latency for the
 * metrics. Code deeper in berth logs a request's id from the operation context it is
 * handed (docs/decisions.md, "Request ids passed down"). Routes are labelled by their pattern (`/api/ssh-keys/:id`), never by
 * the path, so a label names a route and not a key; the query string is never logged.
 */
import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import type { AppEnv } from '../http/types.ts';
import type { Logger } from './logger.ts';
import type { HttpObserver } from './observers.ts';

export interface RequestObservation {
  logger: Logger;
  observer?: HttpObserver;
  /** Paths answered often and by machines (probes, scrapes): logged at debug only. */
  quietPaths?: readonly string[];
}

export const DEFAULT_QUIET_PATHS = ['/healthz', '/readyz', '/metrics'] as const;

/** The pattern of the route that answered; a request no route took is `unmatched`. */
export function routeLabel(pattern: string, status: number): string {
  if (!pattern) return 'unmatched';
  // A 404 from a wildcard (middleware, the web UI's fallback) is an address nobody serves.
  if (status === 404 && pattern.endsWith('*')) return 'unmatched';
  return pattern;
}

export function observeRequests(options: RequestObservation): MiddlewareHandler<AppEnv> {
  const quiet = new Set(options.quietPaths ?? DEFAULT_QUIET_PATHS);
  // A plain function and one `then` rather than an async closure: this runs around
  // every request.
  return (c, next) => {
    const started = performance.now();
    return next().then(() => {
      const seconds = (performance.now() - started) / 1000;
      const status = c.res.status;
      const route = routeLabel(routePath(c), status);
      options.observer?.request({ method: c.req.method, route, status, seconds });
      const line = {
        requestId: c.get('requestId'),
        method: c.req.method,
        path: c.req.path,
        route,
        status,
        ms: Math.round(seconds * 10_000) / 10,
      };
      if (quiet.has(c.req.path)) options.logger.debug(line, 'request');
      else options.logger.info(line, 'request');
    });
  };
}
