/**
 * berth's embedded sign-in over HTTP, on a real database: Supabase Auth's answers, the
 * password stored only as a scrypt hash, sign-up through the registration service,
 * refresh tokens used once with reuse ending the session, sign-out, and slowed guessing.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { EmbeddedAuthService } from '../../src/auth/embedded-idp.ts';
import { createTokenSigner, createTokenVerifier } from '../../src/auth/jwt.ts';
import { LoginThrottle } from '../../src/auth/login-throttle.ts';
import { clientIpResolver } from '../../src/http/middleware.ts';
import { FakeOnboardingService } from '../http/fakes.ts';
import { buildApi, call } from '../http/support.ts';
import { type EngineName, openTestDatabase, type TestDatabase, testEngines } from '../support/db.ts';

const SECRET = 'embedded-sign-in-secret-0123456789-abcdefghij';
const ISSUER = 'http://berth.test/auth/v1';

describe.each(testEngines())('embedded sign-in on %s', (engine: EngineName) => {
  let t: TestDatabase;
  let app: ReturnType<typeof buildApi>['app'];
  let registration: FakeOnboardingService;
  let n = 0;
  const email = () => `User${++n}.${Date.now()}@Example.test`;
  const signUp = (address: string, password = 'long enough password') =>
    call(app, 'POST', '/auth/v1/signup', { body: { email: address, password, data: { name: 'Ada' } } });
  const signIn = (address: string, password: string, ip = '198.51.100.1') =>
    call(app, 'POST', '/auth/v1/token?grant_type=password', {
      body: { email: address, password },
      headers: { 'x-forwarded-for': ip },
    });
  const refresh = (token: string) =>
    call(app, 'POST', '/auth/v1/token?grant_type=refresh_token', { body: { refresh_token: token } });

  beforeAll(async () => {
    t = await openTestDatabase(engine);
    registration = new FakeOnboardingService(t.authz);
    const embedded = new EmbeddedAuthService({
      authz: t.authz,
      registration,
      signer: createTokenSigner({ secret: SECRET, issuer: ISSUER, ttlSeconds: 600 }),
      refreshTokenTtlSeconds: 3600,
      throttle: new LoginThrottle({ freeAttempts: 3 }),
    });
    const verifier = createTokenVerifier({ secret: SECRET, issuer: ISSUER });
    ({ app } = buildApi(t, { auth: { verifier, embedded }, clientIp: clientIpResolver(1) }));
  });
  afterAll(() => t.close());

  it('signs a user up through registration and answers with a Supabase session', async () => {
    const address = email();
    const res = await signUp(address);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.json).toMatchObject({ token_type: 'bearer', expires_in: 600 });
    expect(res.json.expires_at).toBeGreaterThan(Date.now() / 1000);
    expect(res.json.user).toMatchObject({
      aud: 'authenticated',
      role: 'authenticated',
      email: address.toLowerCase(),
      user_metadata: { name: 'Ada' },
      app_metadata: { provider: 'email', providers: ['email'] },
    });
    const registered = registration.registered.at(-1);
    expect(registered).toMatchObject({ id: res.json.user.id, email: address.toLowerCase() });
    expect(registered?.encryptedPassword).toMatch(/^\$scrypt\$ln=15,r=8,p=1\$/);
    const rows = (await t.authz.asService('test: read the user', (tx) =>
      tx.execute(sql`select encrypted_password from auth.users where id = ${res.json.user.id}`),
    )) as unknown as { rows: { encrypted_password: string }[] };
    expect(rows.rows[0]?.encrypted_password).not.toContain('long enough password');
    const keys = await call(app, 'GET', '/api/ssh-keys', { token: res.json.access_token });
    expect([keys.status, keys.json]).toEqual([200, { keys: [] }]);
  });

  it('refuses a second account for an email in any case, and a short password, in Supabase’s words', async () => {
    const address = email();
    await signUp(address);
    const again = await signUp(address.toUpperCase());
    expect(again.status).toBe(409);
    expect(again.json).toMatchObject({ code: 'user_already_exists', error_code: 'user_already_exists' });
    expect(again.json.msg).toBe('User already registered');
    expect(again.headers.get('x-supabase-api-version')).toBe('2024-01-01');
    const weak = await signUp(email(), 'short');
    expect(weak.status).toBe(400);
    expect(weak.json).toMatchObject({ code: 'weak_password', weak_password: { reasons: ['length'] } });
    const invalid = await call(app, 'POST', '/auth/v1/signup', {
      body: { email: 'not-an-email', password: 'long enough pw' },
    });
    expect([invalid.status, invalid.json.code]).toEqual([400, 'validation_failed']);
  });

  it('answers concurrent sign-ups of one email with one account and user_already_exists for the rest', async () => {
    const address = email();
    const answers = await Promise.all([
      signUp(address),
      signUp(address.toUpperCase()),
      signUp(address.toLowerCase()),
    ]);
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([200, 409, 409]);
    for (const a of answers.filter((x) => x.status === 409)) expect(a.json.code).toBe('user_already_exists');
  });

  it('signs in with the right password only, with one message for a wrong password and an unknown email', async () => {
    const address = email();
    await signUp(address);
    const ok = await signIn(address.toUpperCase(), 'long enough password');
    expect(ok.status).toBe(200);
    expect(ok.json.user.email).toBe(address.toLowerCase());
    const wrong = await signIn(address, 'wrong password!!', '198.51.100.50');
    const unknown = await signIn(email(), 'long enough password', '198.51.100.51');
    for (const res of [wrong, unknown]) {
      expect(res.status).toBe(400);
      expect(res.json).toMatchObject({ code: 'invalid_credentials', msg: 'Invalid login credentials' });
    }
  });

  it('slows repeated failures from one address, even when the right password finally comes', async () => {
    const address = email();
    await signUp(address);
    for (let i = 0; i < 3; i++)
      expect((await signIn(address, 'guess guess guess', '203.0.113.5')).status).toBe(400);
    const slowed = await signIn(address, 'long enough password', '203.0.113.5');
    expect(slowed.status).toBe(429);
    expect(slowed.json.code).toBe('over_request_rate_limit');
    expect(Number(slowed.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await signIn(address, 'long enough password', '203.0.113.6')).status).toBe(200);
  });

  it('evaluates no more concurrent guesses than the allowance, and the right one among the rest fails', async () => {
    // Account lookups are held at a gate, as a slow database or hash would hold them, so
    // the later guesses certainly arrive while the first ones are still being evaluated.
    let lookups = 0;
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const gated: typeof t.authz = {
      ...t.authz,
      asService: async (reason, fn) => {
        if (reason === 'sign-in: find the account') {
          lookups++;
          await gate;
        }
        return t.authz.asService(reason, fn);
      },
    };
    const embedded = new EmbeddedAuthService({
      authz: gated,
      registration,
      signer: createTokenSigner({ secret: SECRET, issuer: ISSUER, ttlSeconds: 600 }),
      refreshTokenTtlSeconds: 3600,
      throttle: new LoginThrottle({ freeAttempts: 3 }),
    });
    const verifier = createTokenVerifier({ secret: SECRET, issuer: ISSUER });
    const gatedApp = buildApi(t, { auth: { verifier, embedded }, clientIp: clientIpResolver(1) }).app;
    const address = email();
    expect((await signUp(address)).status).toBe(200);
    const guess = (password: string) =>
      call(gatedApp, 'POST', '/auth/v1/token?grant_type=password', {
        body: { email: address, password },
        headers: { 'x-forwarded-for': '203.0.113.40' },
      });
    let answered = 0;
    const send = (password: string) => guess(password).finally(() => answered++);
    const early = Array.from({ length: 10 }, (_, i) => send(`wrong guess ${i}`));
    await vi.waitFor(() => expect(lookups).toBeGreaterThanOrEqual(3));
    const late = Array.from({ length: 30 }, (_, i) =>
      send(i === 25 ? 'long enough password' : `late wrong guess ${i}`),
    );
    // Every guess is now either answered or held at the gate.
    await vi.waitFor(() => expect(lookups + answered).toBe(40), { timeout: 10_000 });
    open();
    const answers = await Promise.all([...early, ...late]);
    const lateAnswers = answers.slice(10);
    expect(lookups).toBe(3);
    expect(answers.filter((a) => a.status === 400)).toHaveLength(3);
    expect(answers.filter((a) => a.status === 429)).toHaveLength(37);
    expect(lateAnswers[25]?.status).toBe(429);
    expect(answers.some((a) => a.status === 200)).toBe(false);
    // One at a time afterwards, as before: this address waits; another signs in.
    expect((await guess('long enough password')).status).toBe(429);
    expect((await signIn(address, 'long enough password', '203.0.113.41')).status).toBe(200);
  });

  it('rotates refresh tokens, and ends the session when a used one comes back', async () => {
    const session = (await signUp(email())).json;
    const first = await refresh(session.refresh_token);
    expect(first.status).toBe(200);
    expect(first.json.refresh_token).not.toBe(session.refresh_token);
    expect(first.json.user.id).toBe(session.user.id);
    const replay = await refresh(session.refresh_token);
    expect(replay.status).toBe(400);
    expect(replay.json.code).toBe('refresh_token_already_used');
    // The thief's replay also killed the successor the rightful user holds.
    expect((await refresh(first.json.refresh_token)).json.code).toBe('refresh_token_already_used');
    const user = await call(app, 'GET', '/auth/v1/user', { token: first.json.access_token });
    expect([user.status, user.json.code]).toEqual([403, 'session_not_found']);
    expect((await refresh('made-up-token')).json.code).toBe('refresh_token_not_found');
  });

  it('reads the signed-in user, and signs out every session by default', async () => {
    const address = email();
    const one = (await signUp(address)).json;
    const two = (await signIn(address, 'long enough password')).json;
    const me = await call(app, 'GET', '/auth/v1/user', { token: two.access_token });
    expect(me.status).toBe(200);
    expect(me.json).toMatchObject({ id: one.user.id, email: address.toLowerCase() });
    expect((await call(app, 'GET', '/auth/v1/user')).status).toBe(401);
    const out = await call(app, 'POST', '/auth/v1/logout', { token: two.access_token });
    expect(out.status).toBe(204);
    for (const session of [one, two]) {
      expect((await call(app, 'GET', '/auth/v1/user', { token: session.access_token })).status).toBe(403);
      expect((await refresh(session.refresh_token)).status).toBe(400);
    }
  });

  it('signs out only this session with scope=local, or only the others with scope=others', async () => {
    const address = email();
    const a = (await signUp(address)).json;
    const b = (await signIn(address, 'long enough password')).json;
    const c = (await signIn(address, 'long enough password')).json;
    expect((await call(app, 'POST', '/auth/v1/logout?scope=local', { token: a.access_token })).status).toBe(
      204,
    );
    expect((await refresh(a.refresh_token)).status).toBe(400);
    expect((await call(app, 'POST', '/auth/v1/logout?scope=others', { token: b.access_token })).status).toBe(
      204,
    );
    expect((await refresh(c.refresh_token)).status).toBe(400);
    expect((await refresh(b.refresh_token)).status).toBe(200);
  });
});
