/**
 * `GET /metrics`: the registry in Prometheus's text format, for a scrape that proves who
 * it is. On the internal listener it takes the internal API secret (as that API does, or
 * as a bearer token) or BERTH_METRICS_TOKEN as a bearer token; on the public listener,
 * where it is mounted only when the internal listener is off, BERTH_METRICS_TOKEN alone.
 * Prometheus sends a bearer token with `authorization: { credentials_file: … }`. Tokens
 * are compared as digests in constant time, like the internal secret.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Hono } from 'hono';
import type { Registry } from 'prom-client';
import { INTERNAL_SECRET_HEADER } from '../http/internal-app.ts';
import { problemResponse } from '../http/problem.ts';
import type { AppEnv } from '../http/types.ts';

export const METRICS_PATH = '/metrics';

export interface MetricsEndpointOptions {
  registry: Registry;
  /** Tokens a scrape may present as `Authorization: Bearer …`. None: every scrape is refused. */
  bearerTokens: readonly string[];
  /** Also accepted in `X-Internal-Api-Secret` (the internal listener). */
  internalSecret?: string | undefined;
}

const digest = (value: string) => createHash('sha256').update(value).digest();

function matchesAny(candidates: readonly string[], given: string | undefined): boolean {
  if (given === undefined) return false;
  const presented = digest(given);
  // Every candidate is compared, so the time taken does not say which one matched.
  let matched = false;
  for (const candidate of candidates) matched = timingSafeEqual(digest(candidate), presented) || matched;
  return matched;
}

function bearer(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

/** Adds `GET /metrics` to an application (pass to createHttpApp/createInternalApp's extraRoutes). */
export function metricsRoutes(options: MetricsEndpointOptions): (app: Hono<AppEnv>) => void {
  const tokens = options.bearerTokens.filter((t) => t.length > 0);
  const secret = options.internalSecret;
  return (app) => {
    app.get(METRICS_PATH, async (c) => {
      const allowed =
        matchesAny(tokens, bearer(c.req.header('authorization'))) ||
        (secret !== undefined && matchesAny([secret], c.req.header(INTERNAL_SECRET_HEADER)));
      if (!allowed) {
        c.header('www-authenticate', 'Bearer realm="berth metrics"');
        return problemResponse(c, 'unauthorized', 'Metrics need the metrics token.', {
          code: 'unauthorized',
        });
      }
      const body = await options.registry.metrics();
      return c.body(body, 200, {
        'content-type': options.registry.contentType,
        'cache-control': 'no-store',
      });
    });
  };
}

export interface MetricsExposure {
  /** Routes for the internal listener, when it runs. */
  internal: ((app: Hono<AppEnv>) => void) | undefined;
  /** Routes for the public listener: only with no internal listener and a metrics token. */
  public: ((app: Hono<AppEnv>) => void) | undefined;
  /** What the internal listener lets through its secret check (the endpoint checks itself). */
  selfAuthenticatedPaths: string[];
  /** The scrape address, for the start-up line; null when metrics are not served. */
  url(publicUrl: string, internalUrl: string | null): string | null;
}

/** Where berth serves its metrics, given its internal secret and BERTH_METRICS_TOKEN. */
export function metricsExposure(options: {
  registry: Registry;
  internalSecret: string | undefined;
  metricsToken: string | undefined;
}): MetricsExposure {
  const { registry, internalSecret, metricsToken } = options;
  const onPublic = !internalSecret && metricsToken !== undefined;
  const at = (base: string) => `${base.replace(/\/$/, '')}${METRICS_PATH}`;
  return {
    internal: internalSecret
      ? metricsRoutes({ registry, bearerTokens: [metricsToken ?? '', internalSecret], internalSecret })
      : undefined,
    public: onPublic ? metricsRoutes({ registry, bearerTokens: [metricsToken] }) : undefined,
    selfAuthenticatedPaths: [METRICS_PATH],
    url: (publicUrl, internalUrl) => (internalUrl ? at(internalUrl) : onPublic ? at(publicUrl) : null),
  };
}
