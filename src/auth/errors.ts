/**
 * Errors of authentication and request limiting. They are BerthErrors with the domain's
 * stable codes, so the HTTP layer maps them like every other error; `AuthApiProblem` also
 * carries the error code Supabase Auth would answer with, because `@supabase/supabase-js`
 * reads that code to decide what went wrong (a weak password, a missing session).
 */
import { BerthError, type ErrorCode } from '../domain/errors.ts';

/** The request carries no usable credentials: missing, expired or invalid. */
export class AuthenticationError extends BerthError {
  readonly reason: 'missing' | 'expired' | 'invalid';

  constructor(reason: 'missing' | 'expired' | 'invalid', message: string) {
    super('unauthorized', message);
    this.reason = reason;
  }
}

/** Too many requests: refused until `retryAfterSeconds` have passed. */
export class RateLimitedError extends BerthError {
  readonly retryAfterSeconds: number;

  constructor(message: string, retryAfterSeconds: number) {
    super('rate_limited', message, { retryAfterSeconds });
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterSeconds));
  }
}

/**
 * A failure of the embedded sign-in endpoints, with the Supabase Auth error code
 * (`invalid_credentials`, `weak_password`, …) and any extra members its answer has.
 */
export class AuthApiProblem extends BerthError {
  readonly authCode: string;
  readonly extensions: Record<string, unknown>;

  constructor(
    code: ErrorCode,
    authCode: string,
    message: string,
    options: { extensions?: Record<string, unknown>; retryAfterSeconds?: number } = {},
  ) {
    super(
      code,
      message,
      options.retryAfterSeconds ? { retryAfterSeconds: options.retryAfterSeconds } : undefined,
    );
    this.authCode = authCode;
    this.extensions = options.extensions ?? {};
  }
}
