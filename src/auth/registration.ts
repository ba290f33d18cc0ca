/**
 * Registration helpers around the onboarding service's `enhancedUserRegistration`.
 *
 * `InterimUserRegistration` is a stand-in used only until the onboarding service is
 * wired in: it writes the user row and nothing else, so a user registered through it
 * gets no background key generation (their first deploy creates the key inline). It is
 * named for what it is so nobody mistakes it for the real thing.
 *
 * `createUserProvisioner` serves external identity providers: a user whose token berth
 * accepts may never have been registered with berth, so the first request of each user
 * registers them (idempotently), and a bounded in-memory set remembers who was.
 */
import { LRUCache } from 'lru-cache';
import type { Authz } from '../db/authz.ts';
import type { RegisteredUser } from '../services/contracts.ts';
import { ensureUserRow } from '../store/users.ts';
import type { UserRegistration } from './embedded-idp.ts';
import type { AuthUser } from './jwt.ts';

export class InterimUserRegistration implements UserRegistration {
  constructor(private readonly authz: Authz) {}

  async enhancedUserRegistration(user: RegisteredUser): Promise<{ created: boolean }> {
    const created = await this.authz.asService('interim registration: write the user row', (tx) =>
      ensureUserRow(tx, user),
    );
    return { created };
  }
}

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
