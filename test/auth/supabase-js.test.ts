/**
 * End to end against a listening berth: the real `@supabase/supabase-js` client signs up,
 * signs in, reads its user, refreshes and signs out against berth's embedded sign-in, and
 * the token it holds then manages keys, an agent and a deploy through plain `fetch`. A
 * second berth trusts an external provider (tokens signed with a Supabase project's
 * secret) and registers each such user on their first request.
 */
import { randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { createClient } from '@supabase/supabase-js';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { RunningBerth } from '../../src/main.ts';
import { startTestBerth } from '../support/berth-process.ts';

const api = async (berth: RunningBerth, token: string, method: string, path: string, body?: unknown) => {
  const res = await fetch(`${berth.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : undefined, text };
};

describe('berth as the identity provider, through @supabase/supabase-js', () => {
  let running: Awaited<ReturnType<typeof startTestBerth>>;
  let supabase: ReturnType<typeof createClient>;

  beforeAll(async () => {
    running = await startTestBerth();
    supabase = createClient(running.berth.url, 'any-anon-key-berth-ignores', {
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
      // Node 20 has no WebSocket of its own; supabase-js asks for `ws` there. berth serves no
      // realtime, and the client never opens a socket unless a channel is subscribed.
      realtime: { transport: WebSocket as never },
    });
  });
  afterAll(() => running.stop());

  it('keeps its generated token signing secret private in the data directory', () => {
    expect(statSync(join(running.dataDir, 'jwt.secret')).mode & 0o777).toBe(0o600);
  });

  it('signs up, signs in, reads the user, refreshes and signs out with the unchanged client', async () => {
    const email = `ada-${randomUUID().slice(0, 8)}@example.test`;
    const signUp = await supabase.auth.signUp({
      email,
      password: 'a long password',
      options: { data: { name: 'Ada' } },
    });
    expect(signUp.error).toBeNull();
    expect(signUp.data.session?.access_token).toBeTruthy();
    expect(signUp.data.user).toMatchObject({ email, user_metadata: { name: 'Ada' } });

    const wrong = await supabase.auth.signInWithPassword({ email, password: 'not the password' });
    expect(wrong.error?.code).toBe('invalid_credentials');
    expect(wrong.error?.message).toBe('Invalid login credentials');

    const signIn = await supabase.auth.signInWithPassword({ email, password: 'a long password' });
    expect(signIn.error).toBeNull();
    expect(signIn.data.user?.id).toBe(signUp.data.user?.id);

    const { data: me, error } = await supabase.auth.getUser();
    expect(error).toBeNull();
    expect(me.user).toMatchObject({ id: signUp.data.user?.id, email, aud: 'authenticated' });

    const refreshed = await supabase.auth.refreshSession();
    expect(refreshed.error).toBeNull();
    expect(refreshed.data.session?.refresh_token).not.toBe(signIn.data.session?.refresh_token);

    const weak = await supabase.auth.signUp({ email: `x-${email}`, password: 'short' });
    expect(weak.error?.name).toBe('AuthWeakPasswordError');

    expect((await supabase.auth.signOut()).error).toBeNull();
    // berth answers 403 session_not_found, which the client reports as a missing session.
    const after = await supabase.auth.getUser(refreshed.data.session?.access_token);
    expect(after.error?.name).toBe('AuthSessionMissingError');
    expect(after.data.user).toBeNull();
  });

  it('lets the signed-in user manage keys and an agent, and deploy it, over fetch', async () => {
    const email = `grace-${randomUUID().slice(0, 8)}@example.test`;
    const { data } = await supabase.auth.signUp({ email, password: 'another long password' });
    const token = data.session?.access_token as string;
    const berth = running.berth;

    const generated = await api(berth, token, 'POST', '/api/ssh-keys', { name: 'laptop' });
    expect(generated.status).toBe(201);
    expect(generated.json.private_key).toMatch(/BEGIN OPENSSH PRIVATE KEY/);
    const listed = await api(berth, token, 'GET', '/api/ssh-keys');
    expect(listed.json.keys.map((k: { name: string }) => k.name)).toContain('laptop');

    const agent = (await api(berth, token, 'POST', '/api/agents', { name: 'researcher' })).json.agent;
    const deployed = await api(berth, token, 'POST', `/api/agents/${agent.id}/tool-environment`);
    expect(deployed.status).toBe(202);
    expect(deployed.json.environment).toMatchObject({ agent_id: agent.id });
    let environment = deployed.json.environment;
    for (let i = 0; i < 100 && environment.status !== 'active'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      environment = (await api(berth, token, 'GET', `/api/agents/${agent.id}/tool-environment`)).json
        .environment;
    }
    expect(environment.status).toBe('active');
    expect(environment.ssh_key_fingerprints).toContain(generated.json.key.fingerprint_md5);

    const torn = await api(berth, token, 'DELETE', `/api/agents/${agent.id}/tool-environment`);
    expect(torn.status).toBe(202);
    const other = await supabase.auth.signUp({ email: `x-${email}`, password: 'a third long password' });
    const theirs = await api(
      berth,
      other.data.session?.access_token as string,
      'GET',
      `/api/agents/${agent.id}`,
    );
    expect(theirs.status).toBe(404);
  });
});

describe('berth trusting an external provider', () => {
  const secret = 'a-supabase-project-jwt-secret-of-enough-length';
  const issuer = 'https://project.supabase.test/auth/v1';
  let running: Awaited<ReturnType<typeof startTestBerth>>;

  beforeAll(async () => {
    running = await startTestBerth({
      BERTH_AUTH_PROVIDER: 'external',
      BERTH_JWT_SECRET: secret,
      BERTH_JWT_ISSUER: issuer,
    });
  });
  afterAll(() => running.stop());

  it('serves no sign-in of its own', async () => {
    const res = await fetch(`${running.berth.url}/auth/v1/signup`, { method: 'POST' });
    expect(res.status).toBe(404);
  });

  it('registers a user it has never seen on their first request, and serves them', async () => {
    const userId = randomUUID();
    const token = await new SignJWT({ role: 'authenticated', email: `${userId}@example.test` })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(userId)
      .setIssuer(issuer)
      .setAudience('authenticated')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(secret));
    const created = await api(running.berth, token, 'POST', '/api/agents', { name: 'from supabase' });
    expect(created.status).toBe(201);
    expect((await api(running.berth, token, 'GET', '/api/agents')).json.agents).toHaveLength(1);
    const onboarding = await api(running.berth, token, 'GET', '/api/onboarding');
    expect(onboarding.status).toBe(200);
    expect(['pending', 'generating', 'registering', 'ready']).toContain(onboarding.json.status);
  });
});
