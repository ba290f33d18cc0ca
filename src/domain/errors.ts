/**
 * Typed domain errors. Every failure a caller can act on has its own class with a stable
 * `code`; the HTTP layer maps codes to status codes in one place, and nothing else turns
 * errors into responses. Messages are written for the person who will read them and
 * never carry secret material.
 */
export type ErrorCode =
  | 'invalid_input'
  | 'invalid_public_key'
  | 'not_found'
  | 'conflict'
  | 'gone'
  | 'forbidden'
  | 'unauthorized'
  | 'rate_limited'
  | 'unavailable'
  | 'vault_missing_key'
  | 'vault_decrypt_failed'
  | 'upstream_unprocessable'
  | 'limit_reached'
  | 'internal';

export class BerthError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
  }
}

export class InvalidInputError extends BerthError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('invalid_input', message, details);
  }
}

/** An imported public key that is not one berth accepts; the message says why. */
export class InvalidPublicKeyError extends BerthError {
  constructor(message: string) {
    super('invalid_public_key', message);
  }
}

export class NotFoundError extends BerthError {
  constructor(what: string) {
    super('not_found', `${what} not found`);
  }
}

export class ConflictError extends BerthError {
  constructor(message: string) {
    super('conflict', message);
  }
}

/**
 * A user could not be registered with their email: another account holds it and keeps it
 * (an account that signs in with a password, whose email is its sign-in name). It never
 * says which account, only that it is not this one.
 */
export class EmailTakenError extends ConflictError {
  constructor() {
    super(
      'This email address belongs to another berth account, which keeps it. ' +
        'An operator can free it by removing that account or changing its email.',
    );
  }
}

/** A one-time resource (such as a private key download) that was already consumed. */
export class GoneError extends BerthError {
  constructor(message: string) {
    super('gone', message);
  }
}

export class UnavailableError extends BerthError {
  constructor(message: string, options?: ErrorOptions) {
    super('unavailable', message, undefined, options);
  }
}

/** The per-user limits an operator sets, by the names a problem answer gives them. */
export type UserLimitName = 'agents_per_user' | 'live_environments_per_user' | 'keys_per_user';

/**
 * A user is at one of the limits the operator sets (src/domain/limits.ts): nothing more
 * of that kind is made for them until they remove one. Not a rate limit: waiting changes
 * nothing, so it carries no retry-after. `details` names the limit, its maximum and the
 * user's current count, which the problem answer repeats as fields.
 */
export class LimitReachedError extends BerthError {
  constructor(limit: UserLimitName, max: number, current: number, message: string) {
    super('limit_reached', message, { limit, max, current });
  }
}
