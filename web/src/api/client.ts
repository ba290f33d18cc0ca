/**
 * The web UI's client for berth's API: openapi-fetch over the types generated from
 * berth's own OpenAPI document (schema.gen.ts), so a request or an answer that drifts
 * from the routes fails to compile. Every request carries the signed-in user's access
 * token; a 401 tells the app the session is over. Failures become `ApiError`s carrying
 * the problem+json answer's words, which the UI shows as they are.
 */
import createClient, { type Client } from 'openapi-fetch';
import type { components, paths } from './schema.gen.ts';

export type ApiClient = Client<paths>;
export type Problem = components['schemas']['Problem'];
export type SshKey = components['schemas']['SshKey'];
export type Agent = components['schemas']['Agent'];
export type ToolEnvironment = components['schemas']['ToolEnvironment'];
export type OnboardingStatus = components['schemas']['OnboardingStatus'];
export type KeyAlgorithm = NonNullable<components['schemas']['GenerateKeyRequest']['algorithm']>;

export interface ApiClientOptions {
  /** berth's origin; the UI is served by berth, so normally `window.location.origin`. */
  baseUrl: string;
  /** The current access token (refreshed by the sign-in client when it is about to expire). */
  getAccessToken: () => Promise<string | null>;
  /** Called when berth answers 401: the session ended or was revoked. */
  onUnauthorized?: () => void;
  /** The network boundary, replaceable in tests. */
  fetch?: (request: Request) => Promise<Response>;
}

export function createApiClient(options: ApiClientOptions): ApiClient {
  const client = createClient<paths>({
    baseUrl: options.baseUrl,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  client.use({
    async onRequest({ request }) {
      const token = await options.getAccessToken();
      if (token) request.headers.set('authorization', `Bearer ${token}`);
      return request;
    },
    onResponse({ response }) {
      if (response.status === 401) options.onUnauthorized?.();
      return response;
    },
  });
  return client;
}

/** A failed API call, with the problem's human detail as its message. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly fieldErrors: { field: string; message: string }[];

  constructor(status: number, problem: Partial<Problem> | undefined) {
    super(problem?.detail || describeStatus(status));
    this.name = 'ApiError';
    this.status = status;
    this.code = problem?.code ?? `http-${status}`;
    this.fieldErrors = (problem?.errors ?? []).map(({ field, message }) => ({ field, message }));
  }

  /** The message for one request field, when berth named that field. */
  messageFor(field: string): string | undefined {
    return this.fieldErrors.find((e) => e.field === field || e.field.endsWith(`.${field}`))?.message;
  }
}

function describeStatus(status: number): string {
  if (status === 401) return 'Your session has ended. Sign in again.';
  if (status === 404) return 'That no longer exists. It may have been deleted.';
  if (status === 429) return 'Too many requests just now. Wait a moment and try again.';
  if (status >= 500) return 'berth could not do that right now. Try again in a moment.';
  return `berth refused the request (${status}).`;
}

interface FetchResult<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/**
 * The data of a successful call, or an `ApiError`. A failure to reach berth at all
 * becomes an `ApiError` with status 0 and words that say so.
 */
export async function unwrap<T>(call: Promise<FetchResult<T>>): Promise<T> {
  let result: FetchResult<T>;
  try {
    result = await call;
  } catch {
    throw new ApiError(0, { detail: 'berth could not be reached. Check your connection and try again.' });
  }
  if (!result.response.ok) {
    const problem =
      typeof result.error === 'object' && result.error ? (result.error as Partial<Problem>) : {};
    throw new ApiError(result.response.status, problem);
  }
  return result.data as T;
}

/** The user-facing words for any error a query or mutation can end with. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error && error.message) return error.message;
  return 'Something went wrong. Try again.';
}
