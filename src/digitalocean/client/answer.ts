/**
 * Turns a DigitalOcean answer that is not a success into the typed error callers act on.
 * Pure, so the mapping from status to error is stated in one place and tested without a
 * server. The token is scrubbed from any text taken from the answer, in case a proxy or
 * a buggy server echoes request headers back.
 */
import {
  type DigitalOceanCallInfo,
  DigitalOceanNotFoundError,
  DigitalOceanRateLimitedError,
  DigitalOceanUnauthorizedError,
  DigitalOceanUnavailableError,
  DigitalOceanUnprocessableError,
} from '../errors.ts';
import { scrub } from './token.ts';

export interface FailedAnswer {
  call: DigitalOceanCallInfo;
  status: number;
  statusText: string;
  /** The parsed JSON body, if it was JSON: DigitalOcean's `{id, message, request_id?}`. */
  body: unknown;
  token: string;
  /** How long to wait before retrying, for a 429 (already clamped by the caller). */
  retryAfterMs: number;
}

export function errorForAnswer(answer: FailedAnswer): Error {
  const { status } = answer;
  const body = answer.body as { message?: unknown; request_id?: unknown } | undefined;
  const call: DigitalOceanCallInfo = { ...answer.call, status };
  if (typeof body?.request_id === 'string') call.requestId = body.request_id;
  const raw = typeof body?.message === 'string' ? body.message : answer.statusText || `HTTP ${status}`;
  const message = scrub(raw, answer.token);
  if (status === 429) return new DigitalOceanRateLimitedError(call, answer.retryAfterMs);
  if (status >= 500)
    return new DigitalOceanUnavailableError(call, 'server_error', `HTTP ${status}: ${message}`);
  if (status === 401 || status === 403) return new DigitalOceanUnauthorizedError(call, message);
  if (status === 404) return new DigitalOceanNotFoundError(call);
  // 422 and the rarer 400/409: DigitalOcean judged the request itself, so repeating it is pointless.
  return new DigitalOceanUnprocessableError(call, message);
}
