/**
 * Errors as HTTP answers: RFC 9457 `application/problem+json`, with a stable `type` URI
 * per kind of problem, a `title`, the `status`, a `detail` a person can act on, the
 * request id and a machine-readable `code`. This is the one place that maps BerthError
 * codes to statuses. Server-side failures (vault, database, bugs) answer with a generic
 * detail and are logged in full; no stack trace or database text ever reaches a caller.
 * Failures of DigitalOcean are berth's upstream's, not the caller's: they answer 502 or
 * 503, never the 401 or 404 that DigitalOcean itself gave berth.
 */
import type { Context, ErrorHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { AuthApiProblem } from '../auth/errors.ts';
import {
  DigitalOceanNotFoundError,
  DigitalOceanRateLimitedError,
  DigitalOceanUnauthorizedError,
  DigitalOceanUnavailableError,
  DigitalOceanUnprocessableError,
} from '../digitalocean/errors.ts';
import { BerthError, type ErrorCode, LimitReachedError } from '../domain/errors.ts';
import type { Logger } from '../observability/logger.ts';

export const PROBLEM_TYPE_BASE = 'https://berth.dev/problems/';
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export const PROBLEM_KINDS = {
  'invalid-input': { status: 400, title: 'The request is not valid' },
  'malformed-json': { status: 400, title: 'The request body is not valid JSON' },
  unauthorized: { status: 401, title: 'Authentication required' },
  forbidden: { status: 403, title: 'Forbidden' },
  'not-found': { status: 404, title: 'Not found' },
  'method-not-allowed': { status: 405, title: 'Method not allowed' },
  conflict: { status: 409, title: 'Conflict' },
  'limit-reached': { status: 409, title: 'A per-user limit is reached' },
  gone: { status: 410, title: 'Gone' },
  'payload-too-large': { status: 413, title: 'The request body is too large' },
  'unsupported-media-type': { status: 415, title: 'Unsupported media type' },
  'invalid-public-key': { status: 422, title: 'The public key is not acceptable' },
  'rate-limited': { status: 429, title: 'Too many requests' },
  internal: { status: 500, title: 'Internal error' },
  'upstream-error': { status: 502, title: 'DigitalOcean refused the request' },
  unavailable: { status: 503, title: 'Temporarily unavailable' },
  'not-available-yet': { status: 503, title: 'Not available yet' },
} as const satisfies Record<string, { status: ContentfulStatusCode; title: string }>;

export type ProblemKind = keyof typeof PROBLEM_KINDS;

/**
 * BerthError codes to problems. `invalid_input` is 400 (the request is wrong as sent);
 * `invalid_public_key` is 422 (a well-formed request whose key berth will not accept).
 * `limit_reached` is 409, not 429: the user's own agents or environments are in the way,
 * and waiting frees nothing (429 says "slow down, try again later"); the answer names the
 * limit, its maximum and the user's count as `limit`, `max` and `current`.
 * The Record type makes a new error code a compile error here until it is mapped.
 */
const BY_CODE: Record<ErrorCode, ProblemKind> = {
  invalid_input: 'invalid-input',
  invalid_public_key: 'invalid-public-key',
  not_found: 'not-found',
  conflict: 'conflict',
  gone: 'gone',
  forbidden: 'forbidden',
  unauthorized: 'unauthorized',
  rate_limited: 'rate-limited',
  unavailable: 'unavailable',
  vault_missing_key: 'internal',
  vault_decrypt_failed: 'internal',
  upstream_unprocessable: 'upstream-error',
  limit_reached: 'limit-reached',
  internal: 'internal',
};

const GENERIC_DETAIL: Partial<Record<ProblemKind, string>> = {
  internal: 'berth failed to handle this request. Quote the request id when reporting it.',
  'upstream-error': 'DigitalOcean refused berth’s request. The operator can find why under this request id.',
  unavailable: 'A service berth depends on is unavailable. Try again shortly.',
};

/** Supabase Auth's codes for the generic failures, used on the embedded sign-in routes. */
const AUTH_CODES: Partial<Record<string, string>> = {
  invalid_input: 'validation_failed',
  rate_limited: 'over_request_rate_limit',
  unauthorized: 'bad_jwt',
};

/** A part of berth that this deployment has not wired in yet (503, `not-available-yet`). */
export class NotAvailableYetError extends BerthError {
  constructor(what: string) {
    super('unavailable', `${what} is not available in this berth yet.`);
  }
}

export interface ProblemOptions {
  code?: string;
  extensions?: Record<string, unknown>;
  headers?: Record<string, string>;
}

export function problemResponse(
  c: Context,
  kind: ProblemKind,
  detail: string,
  options: ProblemOptions = {},
): Response {
  const { status, title } = PROBLEM_KINDS[kind];
  const code = options.code ?? kind.replaceAll('-', '_');
  const body: Record<string, unknown> = {
    type: `${PROBLEM_TYPE_BASE}${kind}`,
    title,
    status,
    detail,
    instance: c.req.path,
    request_id: c.get('requestId') ?? null,
    code,
    ...options.extensions,
  };
  if (c.req.path.startsWith('/auth/v1')) {
    // What @supabase/supabase-js reads: the code, and the message under `msg`.
    body.code = AUTH_CODES[code] ?? code;
    body.error_code = body.code;
    body.msg = detail;
  }
  return c.body(JSON.stringify(body), status, {
    'content-type': PROBLEM_CONTENT_TYPE,
    'cache-control': 'no-store',
    ...options.headers,
  });
}

interface Classified {
  kind: ProblemKind;
  detail: string;
  options: ProblemOptions;
  /** Whether this is berth's failure, to be logged with its stack. */
  serverFault: boolean;
}

export function classifyError(error: unknown): Classified {
  if (error instanceof NotAvailableYetError) {
    return {
      kind: 'not-available-yet',
      detail: error.message,
      options: { code: 'not_available_yet' },
      serverFault: false,
    };
  }
  if (error instanceof BerthError) {
    const retryAfter = retryAfterOf(error);
    const headers: Record<string, string> = retryAfter ? { 'retry-after': String(retryAfter) } : {};
    if (isDigitalOceanError(error)) {
      const kind =
        error.code === 'rate_limited' || error.code === 'unavailable' ? 'unavailable' : 'upstream-error';
      return {
        kind,
        detail: GENERIC_DETAIL[kind] as string,
        options: { code: 'upstream', headers },
        serverFault: true,
      };
    }
    const kind = BY_CODE[error.code] ?? 'internal';
    const generic = kind === 'internal' || kind === 'upstream-error' ? GENERIC_DETAIL[kind] : undefined;
    const options: ProblemOptions = { code: error.code, headers };
    if (error instanceof AuthApiProblem) {
      options.code = error.authCode;
      options.extensions = error.extensions;
    }
    if (error instanceof LimitReachedError) {
      const { limit, max, current } = error.details ?? {};
      options.extensions = { limit, max, current };
    }
    return {
      kind,
      detail: generic ?? error.message,
      options,
      serverFault: PROBLEM_KINDS[kind].status >= 500,
    };
  }
  if (error instanceof HTTPException) {
    if (error.status === 413)
      return simple('payload-too-large', 'The request body is larger than berth accepts.');
    if (error.status === 415)
      return simple('unsupported-media-type', 'Send the request body as application/json.');
    if (error.status === 400)
      return simple('malformed-json', 'The request body could not be parsed as JSON.');
    if (error.status === 404) return simple('not-found', 'Not found.');
    if (error.status === 405) return simple('method-not-allowed', 'This method is not allowed here.');
  }
  return { kind: 'internal', detail: GENERIC_DETAIL.internal as string, options: {}, serverFault: true };
}

const simple = (kind: ProblemKind, detail: string): Classified => ({
  kind,
  detail,
  options: {},
  serverFault: false,
});

function retryAfterOf(error: BerthError): number | null {
  const details = error.details ?? {};
  if (typeof details.retryAfterSeconds === 'number') return Math.max(1, Math.ceil(details.retryAfterSeconds));
  if (typeof details.retryAfterMs === 'number') return Math.max(1, Math.ceil(details.retryAfterMs / 1000));
  return null;
}

const DIGITALOCEAN_ERRORS = [
  DigitalOceanNotFoundError,
  DigitalOceanRateLimitedError,
  DigitalOceanUnauthorizedError,
  DigitalOceanUnavailableError,
  DigitalOceanUnprocessableError,
];

function isDigitalOceanError(error: BerthError): boolean {
  return DIGITALOCEAN_ERRORS.some((type) => error instanceof type);
}

/** The error handler of every berth application: one problem answer, one log line. */
export function createErrorHandler(logger: Logger): ErrorHandler {
  return (error, c) => {
    const { kind, detail, options, serverFault } = classifyError(error);
    const requestId = c.get('requestId');
    if (serverFault) logger.error({ err: error, requestId, path: c.req.path }, 'request failed');
    else logger.debug({ requestId, path: c.req.path, problem: kind }, 'request refused');
    return problemResponse(c, kind, detail, options);
  };
}

interface ValidationResult {
  success: boolean;
  target: string;
  error?: { issues: { path: PropertyKey[]; message: string; code?: string; keys?: string[] }[] };
}

/**
 * What a failed zod validation answers. A malformed id in a path is a resource that does
 * not exist (404, as for another user's id); anything else is a 400 that lists where the
 * request is wrong, by field path and message, never echoing the values sent.
 */
export function validationHook(result: ValidationResult, c: Context): Response | undefined {
  if (result.success) return undefined;
  if (result.target === 'param') return problemResponse(c, 'not-found', 'Not found.');
  const location = result.target === 'json' ? 'body' : result.target;
  // A field the route does not know is named as the field itself, one entry each (zod
  // reports them together, at the object that holds them).
  const errors = (result.error?.issues ?? []).flatMap((issue) =>
    (issue.code === 'unrecognized_keys' && issue.keys ? issue.keys : [null]).map((key) => ({
      location,
      field: [...issue.path, ...(key === null ? [] : [key])].map(String).join('.'),
      message: issue.message,
    })),
  );
  const first = errors[0];
  const detail = first
    ? `${first.field ? `${first.field}: ` : ''}${first.message}`
    : 'The request does not match what this route accepts.';
  return problemResponse(c, 'invalid-input', detail, { code: 'invalid_input', extensions: { errors } });
}
