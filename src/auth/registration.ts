/**
 * Registering users of an external identity provider: a user whose token berth accepts
 * may never have been registered with berth, so the first request of each user registers
 * them through the onboarding service's `enhancedUserRegistration` (idempotent; it writes
 * the user row and enqueues their key generation), and a bounded in-memory set remembers
 * who was, so later requests cost nothing.
 */
import { LRUCache } from 'lru-cache';
import type { UserRegistration } from './embedded-idp.ts';
import type { AuthUser } from './jwt.ts';

export type UserProvisioner = (user: AuthUser, requestId?: string) => Promise<void>;

export function createUserProvisioner(
  registration: UserRegistration,
  maxRemembered = 100_000,
): UserProvisioner {
  const known = new LRUCache<string, Promise<void>>({ max: maxRemembered });
  return (user, requestId) => {
    let pending = known.get(user.id);
    if (!pending) {
      pending = registration
        .enhancedUserRegistration(
          { id: user.id, email: user.email },
          { requestId, actor: 'service:provisioning' },
        )
        .then(() => undefined);
      known.set(user.id, pending);
      // A failed registration is forgotten, so the user's next request tries again.
      pending.catch(() => known.delete(user.id));
    }
    return pending;
  };
}
