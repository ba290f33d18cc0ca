/**
 * Users an external identity provider signs in, registered with berth through the real
 * onboarding service on their first request or by the internal onboard route: an email
 * another row already holds gets a decided answer (it moves to the new user when both
 * are the provider's users, 409 when an account with a password holds it), never a 500;
 * keys stay with the id they were made for; no onboarding job is ever enqueued without
 * its user; and emails are stored normalised on both paths.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenVerifier } from '../../src/auth/jwt.ts';
import { createUserProvisioner } from '../../src/auth/registration.ts';
import { EmailTakenError } from '../../src/domain/errors.ts';
import { createInternalApp } from '../../src/http/internal-app.ts';
import { buildApi, call, silentLogger, TEST_ISSUER, TEST_SECRET } from '../http/support.ts';
import { type EngineName, openTestDatabase, type TestDatabase, testEngines } from '../support/db.ts';
import { FakeKeyRegistry } from './fake-registry.ts';
import { buildOnboarding, keyRows, type Onboarding, onboardingJobs } from './harness.ts';

const INTERNAL_SECRET = 'internal-secret-for-tests-0123456789abcdef';

/** A token the external provider would sign for the user, with the email it knows them by. */
async function providerToken(userId: string, email: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ role: 'authenticated', email })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(userId)
    .setIssuer(TEST_ISSUER)
    .setAudience('authenticated')
    .setIssuedAt(now)
    .setExpirationTime(now + 3600)
    .sign(new TextEncoder().encode(TEST_SECRET));
}

describe.each(testEngines())('users of an external identity provider on %s', (engine: EngineName) => {
  let t: TestDatabase;
  let o: Onboarding;
  let app: ReturnType<typeof buildApi>['app'];
  let internal: ReturnType<typeof createInternalApp>;
  let n = 0;
  const freshEmail = () => `person${++n}.${Date.now()}@example.test`;
  const withSecret = { 'x-internal-api-secret': INTERNAL_SECRET };

  beforeAll(async () => {
    t = await openTestDatabase(engine);
    o = buildOnboarding(t, new FakeKeyRegistry(), { queue: { role: 'client' } });
    await o.queue.start();
    const verifier = createTokenVerifier({ secret: TEST_SECRET, issuer: TEST_ISSUER });
    ({ app } = buildApi(t, { auth: { verifier, provisionUser: createUserProvisioner(o.service) } }));
    internal = createInternalApp({ secret: INTERNAL_SECRET, logger: silentLogger, registration: o.service });
  });
  afterAll(async () => {
    await o.queue.close();
    await t.close();
  });

  const readKeys = async (userId: string, email: string) =>
    call(app, 'GET', '/api/ssh-keys', { token: await providerToken(userId, email) });
  const onboard = (userId: string, body?: { email: string }) =>
    call(internal, 'POST', `/internal/users/${userId}/onboard`, {
      headers: withSecret,
      ...(body ? { body } : {}),
    });
  const userRow = async (userId: string) => {
    const result = (await t.authz.asService('test: read a user', (tx) =>
      tx.execute(sql`select email from auth.users where id = ${userId}`),
    )) as unknown as { rows: { email: string | null }[] };
    return result.rows[0] ?? null;
  };
  const onboardingRecord = async (userId: string) => {
    const result = (await t.authz.asService('test: read onboarding', (tx) =>
      tx.execute(sql`select status from user_onboarding where user_id = ${userId}`),
    )) as unknown as { rows: unknown[] };
    return result.rows[0] ?? null;
  };
  /** An account that signs in with a password, as the embedded sign-up writes one. */
  const passwordAccount = async (email: string) => {
    const id = randomUUID();
    await o.service.enhancedUserRegistration({ id, email, encryptedPassword: '$scrypt$ln=15,r=8,p=1$x$y' });
    return id;
  };

  it('gives an email the provider moved to a new user to that user, on every request, and no keys with it', async () => {
    const email = freshEmail();
    const previous = randomUUID();
    expect((await readKeys(previous, email)).status).toBe(200);
    await o.sshKeys.ensureUserHasSSHKeys(previous);
    const next = randomUUID();
    for (let i = 0; i < 3; i++) {
      const res = await readKeys(next, email);
      expect([res.status, res.json]).toEqual([200, { keys: [] }]);
    }
    expect(await userRow(next)).toEqual({ email });
    expect(await userRow(previous)).toEqual({ email: null });
    expect(await keyRows(t, previous)).toHaveLength(1);
    expect(await keyRows(t, next)).toHaveLength(0);
    expect(await onboardingJobs(t, next)).toHaveLength(1);
  });

  it('refuses, with 409 on every request, an email that an account with a password holds', async () => {
    const email = freshEmail();
    const holder = await passwordAccount(email);
    const newcomer = randomUUID();
    for (let i = 0; i < 3; i++) {
      const res = await readKeys(newcomer, email.toUpperCase());
      expect(res.status).toBe(409);
      expect(res.json).toMatchObject({ type: 'https://berth.dev/problems/conflict', code: 'conflict' });
      expect(res.json.detail).toMatch(/belongs to another berth account/);
    }
    expect(await userRow(newcomer)).toBeNull();
    expect(await userRow(holder)).toEqual({ email });
    expect(await onboardingJobs(t, newcomer)).toHaveLength(0);
  });

  it('answers the internal onboard route the same way for a taken email', async () => {
    const movedEmail = freshEmail();
    const previous = randomUUID();
    expect((await onboard(previous, { email: movedEmail })).status).toBe(202);
    const next = randomUUID();
    const moved = await onboard(next, { email: movedEmail });
    expect([moved.status, moved.json]).toEqual([202, { user_id: next, created: true }]);
    expect(await userRow(next)).toEqual({ email: movedEmail });
    expect(await userRow(previous)).toEqual({ email: null });

    const keptEmail = freshEmail();
    await passwordAccount(keptEmail);
    const refused = randomUUID();
    for (let i = 0; i < 2; i++) {
      const res = await onboard(refused, { email: keptEmail });
      expect([res.status, res.json.code]).toEqual([409, 'conflict']);
    }
    expect(await userRow(refused)).toBeNull();
    expect(await onboardingJobs(t, refused)).toHaveLength(0);
  });

  it('stores the email trimmed and lower-cased, from a token and from the internal route', async () => {
    const fromToken = randomUUID();
    const tokenEmail = freshEmail();
    expect((await readKeys(fromToken, `  ${tokenEmail.toUpperCase()} `)).status).toBe(200);
    expect(await userRow(fromToken)).toEqual({ email: tokenEmail });
    const fromRoute = randomUUID();
    const routeEmail = freshEmail();
    const res = await onboard(fromRoute, { email: ` ${routeEmail.replace('person', 'Person')}  ` });
    expect(res.status).toBe(202);
    expect(await userRow(fromRoute)).toEqual({ email: routeEmail });
    // A later request of another case is the same email: the user it moved to keeps it.
    const other = randomUUID();
    expect((await onboard(other, { email: routeEmail.toUpperCase() })).status).toBe(202);
    expect(await userRow(fromRoute)).toEqual({ email: null });
    expect(await userRow(other)).toEqual({ email: routeEmail });
  });

  it('enqueues no onboarding for a user whose row could not be written', async () => {
    const email = freshEmail();
    await passwordAccount(email);
    const userId = randomUUID();
    await expect(o.service.enhancedUserRegistration({ id: userId, email })).rejects.toBeInstanceOf(
      EmailTakenError,
    );
    expect(await userRow(userId)).toBeNull();
    expect(await onboardingRecord(userId)).toBeNull();
    expect(await onboardingJobs(t, userId)).toHaveLength(0);
  });

  it('leaves a registered user’s row as it is when they are registered again', async () => {
    const userId = randomUUID();
    const email = freshEmail();
    expect((await onboard(userId, { email })).json.created).toBe(true);
    const again = await onboard(userId, { email: freshEmail() });
    expect([again.status, again.json.created]).toEqual([202, false]);
    expect(await userRow(userId)).toEqual({ email });
    expect(await onboardingJobs(t, userId)).toHaveLength(1);
  });

  it('registers every one of several new users claiming one email at once, and one holds it', async () => {
    const email = freshEmail();
    const ids = Array.from({ length: 4 }, () => randomUUID());
    const answers = await Promise.all(ids.map((id) => onboard(id, { email })));
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 202]);
    const rows = await Promise.all(ids.map(userRow));
    expect(rows.filter((r) => r?.email === email)).toHaveLength(1);
    expect(rows.filter((r) => r?.email === null)).toHaveLength(3);
    for (const id of ids) expect(await onboardingJobs(t, id)).toHaveLength(1);
  });
});
