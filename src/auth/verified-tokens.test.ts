import { describe, expect, it } from 'vitest';
import { AuthenticationError } from './errors.ts';
import type { AuthUser, TokenVerifier } from './jwt.ts';
import { cacheVerifiedTokens } from './verified-tokens.ts';

const user = (expiresAt: number): AuthUser => ({
  id: '8d0c7a43-6a39-4c1e-9a3f-0f0b7c1d2e3f',
  email: 'a@example.test',
  sessionId: null,
  expiresAt,
});

function countingVerifier(answer: (token: string) => AuthUser) {
  const calls: string[] = [];
  const verifier: TokenVerifier = {
    async verify(token) {
      calls.push(token);
      return answer(token);
    },
  };
  return { verifier, calls };
}

describe('cacheVerifiedTokens', () => {
  it('verifies a token once while it is unexpired', async () => {
    let clock = 1_000_000;
    const { verifier, calls } = countingVerifier(() => user(2_000));
    const cached = cacheVerifiedTokens(verifier, { now: () => clock });
    expect(await cached.verify('t1')).toEqual(user(2_000));
    clock += 500_000;
    expect(await cached.verify('t1')).toEqual(user(2_000));
    expect(calls).toEqual(['t1']);
  });

  it('sends an expired token through full verification again', async () => {
    let clock = 1_000_000;
    const { verifier, calls } = countingVerifier(() => {
      if (calls.length > 1) throw new AuthenticationError('expired', 'The access token has expired.');
      return user(2_000);
    });
    const cached = cacheVerifiedTokens(verifier, { now: () => clock });
    await cached.verify('t1');
    clock = 2_000_000;
    await expect(cached.verify('t1')).rejects.toThrow('expired');
    expect(calls).toEqual(['t1', 't1']);
  });

  it('does not remember a refused token', async () => {
    const { verifier, calls } = countingVerifier(() => {
      throw new AuthenticationError('invalid', 'The access token is not valid.');
    });
    const cached = cacheVerifiedTokens(verifier, { now: () => 0 });
    await expect(cached.verify('bad')).rejects.toThrow('not valid');
    await expect(cached.verify('bad')).rejects.toThrow('not valid');
    expect(calls).toEqual(['bad', 'bad']);
  });

  it('answers only for the very token it verified, not another carrying the same signature', async () => {
    const { verifier, calls } = countingVerifier((token) => {
      if (token !== 'h.p1.sig') throw new AuthenticationError('invalid', 'The access token is not valid.');
      return user(2_000);
    });
    const cached = cacheVerifiedTokens(verifier, { now: () => 0 });
    await cached.verify('h.p1.sig');
    // A forged token: another payload with the first token's signature.
    expect(cached.known?.('h.p2.sig')).toBeUndefined();
    await expect(cached.verify('h.p2.sig')).rejects.toThrow('not valid');
    expect(calls).toEqual(['h.p1.sig', 'h.p2.sig']);
    expect(cached.known?.('h.p1.sig')).toEqual(user(2_000));
  });

  it('keeps tokens apart: a second token is verified on its own', async () => {
    const { verifier, calls } = countingVerifier(() => user(2_000));
    const cached = cacheVerifiedTokens(verifier, { now: () => 0 });
    await cached.verify('t1');
    await cached.verify('t2');
    await cached.verify('t1');
    expect(calls).toEqual(['t1', 't2']);
  });

  it('forgets the least recently used token beyond its bound', async () => {
    const { verifier, calls } = countingVerifier(() => user(2_000));
    const cached = cacheVerifiedTokens(verifier, { now: () => 0, max: 2 });
    for (const t of ['a', 'b', 'c', 'a']) await cached.verify(t);
    expect(calls).toEqual(['a', 'b', 'c', 'a']);
  });

  it('knows a verified token at once, and no other, and none once expired', async () => {
    let clock = 1_000_000;
    const { verifier } = countingVerifier(() => user(2_000));
    const cached = cacheVerifiedTokens(verifier, { now: () => clock });
    expect(cached.known?.('t1')).toBeUndefined();
    await cached.verify('t1');
    expect(cached.known?.('t1')).toEqual(user(2_000));
    expect(cached.known?.('t2')).toBeUndefined();
    clock = 2_000_000;
    expect(cached.known?.('t1')).toBeUndefined();
  });
});
