import { describe, expect, it } from 'vitest';
import { createUserProvisioner } from './registration.ts';

const user = (id: string) => ({ id, email: `${id}@example.test`, sessionId: null, expiresAt: 0 });

describe('registering users of an external provider on first sight', () => {
  it('registers each user once, also when their first requests arrive together', async () => {
    const calls: string[] = [];
    const provision = createUserProvisioner({
      enhancedUserRegistration: async (u) => {
        calls.push(u.id);
        await new Promise((resolve) => setTimeout(resolve, 10));
        return { created: true };
      },
    });
    await Promise.all([provision(user('a')), provision(user('a')), provision(user('b'))]);
    await provision(user('a'));
    expect(calls.sort()).toEqual(['a', 'b']);
  });

  it('tries again on the next request when a registration failed', async () => {
    let attempts = 0;
    const provision = createUserProvisioner({
      enhancedUserRegistration: async () => {
        attempts++;
        if (attempts === 1) throw new Error('database down');
        return { created: true };
      },
    });
    await expect(provision(user('a'))).rejects.toThrow('database down');
    await provision(user('a'));
    await provision(user('a'));
    expect(attempts).toBe(2);
  });
});
