/**
 * The middleware every berth application shares: request ids, the body size limit (413
 * before anything parses the body), the JSON content-type check (415), CORS when an
 * operator allows origins, and the client address used by per-IP limits.
 */
import { randomUUID } from 'node:crypto';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { berthResponse, requestHeader } from './node.ts';
import { problemResponse } from './problem.ts';
import type { AppEnv } from './types.ts';

export const DEFAULT_BODY_LIMIT_BYTES = 64 * 1024;

const SANE_REQUEST_ID = /^[\w\-=]{1,128}$/;

/**
 * `x-request-id` in and out: the caller's if it is a sane token, else a fresh UUID. Like
 * the default headers, it is handed to berth's Node response when there is one.
 */
export const requestIds = (): MiddlewareHandler<AppEnv> => (c, next) => {
  const given = requestHeader(c, 'x-request-id');
  const id = given && SANE_REQUEST_ID.test(given) ? given : randomUUID();
  c.set('requestId', id);
  const outgoing = berthResponse(c);
  if (outgoing) outgoing.requestId = id;
  else c.header('x-request-id', id);
  return next();
};

const limitBody = (maxBytes: number): MiddlewareHandler<AppEnv> =>
  bodyLimit({
    maxSize: maxBytes,
    onError: (c) =>
      problemResponse(c, 'payload-too-large', `The request body is larger than ${maxBytes} bytes.`),
  });

/**
 * The body checks together, the size limit first: one step in front of the routes, which
 * a request without a body (every read) passes at once. Asking a GET for its body would
 * make the Node adapter build a whole fetch Request (with its AbortController), which
 * costs a read more than its route does.
 */
export const checkBodies = (maxBytes: number): MiddlewareHandler<AppEnv> => {
  const limit = limitBody(maxBytes);
  const json = requireJsonBody();
  return (c, next) => {
    const method = c.req.method;
    if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return next();
    return limit(c, () => json(c, next) as Promise<void>);
  };
};

const JSON_TYPE = /^application\/(?:[a-z0-9.+-]+\+)?json\s*(?:;.*)?$/i;

/**
 * A request with a body must send it as JSON: berth's routes read nothing else. A body
 * sent without any content type is refused too; a request without a body passes.
 */
const requireJsonBody = (): MiddlewareHandler<AppEnv> => async (c, next) => {
  const method = c.req.method;
  if (method === 'POST' || method === 'PUT' || method === 'PATCH' || method === 'DELETE') {
    const type = c.req.header('content-type');
    const refused = type ? !JSON_TYPE.test(type) : await hasBody(c.req.raw);
    if (refused)
      return problemResponse(c, 'unsupported-media-type', 'Send the request body as application/json.');
  }
  await next();
};

async function hasBody(request: Request): Promise<boolean> {
  const length = request.headers.get('content-length');
  if (length !== null) return length !== '0';
  if (!request.body) return false;
  // The body limit ran first, so what is read here is bounded.
  return (await request.clone().arrayBuffer()).byteLength > 0;
}

/** CORS for the given origins; none configured means no CORS headers at all. */
export function corsFor(origins: string[]): MiddlewareHandler<AppEnv> {
  if (origins.length === 0) return async (_c, next) => next();
  return cors({
    origin: origins,
    allowMethods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
    allowHeaders: [
      'authorization',
      'content-type',
      'apikey',
      'x-client-info',
      'x-request-id',
      'x-supabase-api-version',
    ],
    exposeHeaders: ['x-request-id', 'retry-after', 'content-disposition'],
    maxAge: 600,
  });
}

export type ClientIpResolver = (c: Context) => string;

/**
 * The caller's address. Behind `trustedProxyHops` proxies it is that many entries from
 * the right of X-Forwarded-For (entries further left are whatever the client wrote);
 * otherwise the socket's peer. Requests that come from no socket (tests) are `unknown`.
 */
export function clientIpResolver(trustedProxyHops: number): ClientIpResolver {
  return (c) => {
    if (trustedProxyHops > 0) {
      const forwarded = (c.req.header('x-forwarded-for') ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const entry = forwarded[forwarded.length - trustedProxyHops];
      if (entry) return entry;
    }
    try {
      return getConnInfo(c).remote.address ?? 'unknown';
    } catch {
      return 'unknown';
    }
  };
}
