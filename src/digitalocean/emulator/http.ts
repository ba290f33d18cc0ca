/**
 * Pieces every emulator route shares: the Hono environment type, DigitalOcean's error
 * bodies (`{id, message, request_id}` with the request id that is also sent as
 * `x-request-id`), JSON body reading, and DigitalOcean's pagination (`links.pages` and
 * `meta.total`, 20 per page by default, at most 200).
 */
import type { HttpBindings } from '@hono/node-server';
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export interface EmulatorEnv {
  // Empty (or even undefined) when the app is driven in-process through app.request()
  // rather than through a socket; code reads it with optional chaining.
  Bindings: Partial<HttpBindings>;
  Variables: { requestId: string; endpoint: string };
}

export type EmulatorContext = Context<EmulatorEnv>;

export const MESSAGES = {
  unauthorized: 'Unable to authenticate you',
  notFound: 'The resource you were accessing could not be found.',
  tooManyRequests: 'API rate limit exceeded.',
  serverError: 'Unexpected server-side error',
  unavailable: 'The service is temporarily unavailable. Please try again later.',
} as const;

export function apiError(
  c: EmulatorContext,
  status: ContentfulStatusCode,
  id: string,
  message: string,
): Response {
  return c.json({ id, message, request_id: c.get('requestId') }, status);
}

export const notFound = (c: EmulatorContext): Response => apiError(c, 404, 'not_found', MESSAGES.notFound);

export const unprocessable = (c: EmulatorContext, message: string): Response =>
  apiError(c, 422, 'unprocessable_entity', message);

/** Reads a JSON object body; answers 400 as DigitalOcean does when it is not one. */
export async function readJsonObject(
  c: EmulatorContext,
): Promise<{ body: Record<string, unknown> } | { response: Response }> {
  const text = await c.req.text();
  try {
    const body: unknown = text.trim() === '' ? {} : JSON.parse(text);
    if (body && typeof body === 'object' && !Array.isArray(body))
      return { body: body as Record<string, unknown> };
  } catch {
    // Falls through to the 400 below.
  }
  return { response: apiError(c, 400, 'bad_request', 'The request body must be a JSON object.') };
}

/** A 204 as DigitalOcean sends it: no body, but a JSON content type. */
export function noContent(c: EmulatorContext): Response {
  return c.body(null, 204, { 'content-type': 'application/json; charset=utf-8' });
}

export interface Page<T> {
  items: T[];
  links: { pages?: Record<string, string> };
  meta: { total: number };
}

/** Cuts `items` to the requested page and builds DigitalOcean's `links.pages` from the request URL. */
export function paginate<T>(c: EmulatorContext, items: T[]): Page<T> {
  const perPage = clampInt(c.req.query('per_page'), 20, 1, 200);
  const lastPage = Math.max(1, Math.ceil(items.length / perPage));
  const page = clampInt(c.req.query('page'), 1, 1, Number.MAX_SAFE_INTEGER);
  const url = new URL(c.req.url);
  const pageUrl = (n: number): string => {
    const target = new URL(url.pathname, url.origin);
    for (const [k, v] of url.searchParams)
      if (k !== 'page' && k !== 'per_page') target.searchParams.set(k, v);
    target.searchParams.set('page', String(n));
    target.searchParams.set('per_page', String(perPage));
    return target.toString();
  };
  const pages: Record<string, string> = {};
  if (page > 1) {
    pages.first = pageUrl(1);
    pages.prev = pageUrl(Math.min(page - 1, lastPage));
  }
  if (page < lastPage) {
    pages.next = pageUrl(page + 1);
    pages.last = pageUrl(lastPage);
  }
  return {
    items: items.slice((page - 1) * perPage, page * perPage),
    links: Object.keys(pages).length ? { pages } : {},
    meta: { total: items.length },
  };
}

function clampInt(raw: string | undefined, fallback: number, min: number, max: number): number {
  const n = Number(raw);
  if (raw === undefined || !Number.isInteger(n)) return fallback;
  return Math.min(max, Math.max(min, n));
}

/** DigitalOcean's timestamps: ISO 8601 in UTC without milliseconds. */
export const isoTime = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
