/**
 * A bounded memory of tokens already verified. A client sends the same access token on
 * every request until it expires; verifying its signature, header and claims each time
 * is the largest part of an authenticated read's CPU. A token's verdict cannot change
 * while it is unexpired (berth's checks depend only on the token and the configured
 * keys), so the verdict is kept until the token's `exp`; after that the token goes
 * through full verification again, which decides within the clock tolerance. Only
 * successes are kept: a refused token costs a full check every time, so a flood of bad
 * tokens cannot push good ones out.
 */
import { LRUCache } from 'lru-cache';
import type { AuthUser, TokenVerifier } from './jwt.ts';

export interface VerifiedTokenCacheOptions {
  /** Most tokens remembered. Default 10,000. */
  max?: number;
  /** Milliseconds since the epoch; tests move it. */
  now?: () => number;
}

export function cacheVerifiedTokens(
  verifier: TokenVerifier,
  options: VerifiedTokenCacheOptions = {},
): TokenVerifier {
  const now = options.now ?? Date.now;
  // Keyed by the token's signature, the part after its last dot, and answered only when
  // the whole token stored matches: a lookup by the whole token (some 800 characters)
  // spent more time hashing it than the rest of the lookup did.
  const verified = new LRUCache<string, { token: string; user: AuthUser }>({ max: options.max ?? 10_000 });
  const signatureOf = (token: string) => token.slice(token.lastIndexOf('.') + 1);
  const known = (token: string) => {
    const key = signatureOf(token);
    const entry = verified.get(key);
    if (entry === undefined || entry.token !== token) return undefined;
    if (now() < entry.user.expiresAt * 1000) return entry.user;
    verified.delete(key);
    return undefined;
  };
  return {
    known,
    async verify(token) {
      const user = known(token);
      if (user) return user;
      const fresh = await verifier.verify(token);
      if (now() < fresh.expiresAt * 1000) verified.set(signatureOf(token), { token, user: fresh });
      return fresh;
    },
  };
}
