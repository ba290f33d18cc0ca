import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { App } from './App.tsx';
import { type AuthClient, SessionProvider } from './auth/session.tsx';
import { fakeBerth, json, keyFixture, renderWithApi, testClient } from './test/harness.tsx';

/** The parts of supabase-js's auth client the UI uses, over one known account. */
function fakeAuth(account: { email: string; password: string }) {
  type Listener = (event: string, session: unknown) => void;
  let session: unknown = null;
  const listeners: Listener[] = [];
  const emit = (event: string) => {
    for (const l of listeners) l(event, session);
  };
  const auth = {
    getSession: async () => ({ data: { session }, error: null }),
    onAuthStateChange: (listener: Listener) => {
      listeners.push(listener);
      return {
        data: { subscription: { unsubscribe: () => listeners.splice(listeners.indexOf(listener), 1) } },
      };
    },
    signInWithPassword: async ({ email, password }: { email: string; password: string }) => {
      if (email !== account.email || password !== account.password) {
        return { data: { session: null, user: null }, error: { message: 'Invalid login credentials' } };
      }
      session = { access_token: 'token', user: { email } };
      emit('SIGNED_IN');
      return { data: { session, user: { email } }, error: null };
    },
    signUp: async () => ({
      data: { session: null, user: null },
      error: { message: 'User already registered' },
    }),
    signOut: async () => {
      session = null;
      emit('SIGNED_OUT');
      return { error: null };
    },
  };
  return auth as unknown as AuthClient;
}

function berthWithOneAgent() {
  return fakeBerth({
    'GET /api/onboarding': () =>
      json({ status: 'ready', error: null, key_id: keyFixture().id, updated_at: null }),
    'GET /api/ssh-keys': () => json({ keys: [keyFixture()] }),
    'GET /api/agents': () =>
      json({
        agents: [
          {
            id: '99999999-9999-4999-8999-999999999999',
            name: 'scout',
            created_at: '2026-01-02T03:04:05.000Z',
            updated_at: '2026-01-02T03:04:05.000Z',
          },
        ],
      }),
  });
}

describe('the app', () => {
  it("shows the sign-in provider's refusal, then the agents page once signed in, and signs out", async () => {
    const user = userEvent.setup();
    const auth = fakeAuth({ email: 'ada@example.test', password: 'a long password' });
    renderWithApi(
      <SessionProvider auth={auth}>
        <App />
      </SessionProvider>,
      testClient(berthWithOneAgent().fetch),
    );

    await screen.findByRole('heading', { name: 'Sign in to berth' });
    await user.type(screen.getByLabelText('Email'), 'ada@example.test');
    await user.type(screen.getByLabelText('Password'), 'wrong password{Enter}');
    expect(await screen.findByRole('alert')).toHaveProperty('textContent', 'Invalid login credentials');

    await user.clear(screen.getByLabelText('Password'));
    await user.type(screen.getByLabelText('Password'), 'a long password{Enter}');
    expect(await screen.findByRole('heading', { name: 'scout' })).toBeTruthy();
    expect(screen.getByText('ada@example.test')).toBeTruthy();
    expect(screen.getByRole('link', { name: 'Agents' }).getAttribute('aria-current')).toBe('page');

    await user.click(screen.getByRole('button', { name: 'Sign out' }));
    expect(await screen.findByRole('heading', { name: 'Sign in to berth' })).toBeTruthy();
  });

  it('says why creating an account did not work', async () => {
    const user = userEvent.setup();
    renderWithApi(
      <SessionProvider auth={fakeAuth({ email: 'a@b.c', password: 'x' })}>
        <App />
      </SessionProvider>,
      testClient(berthWithOneAgent().fetch),
    );
    await user.click(await screen.findByRole('button', { name: 'Create account' }));
    expect(screen.getByRole('heading', { name: 'Create your berth account' })).toBeTruthy();
    await user.type(screen.getByLabelText('Email'), 'ada@example.test');
    await user.type(screen.getByLabelText('Password'), 'a long password{Enter}');
    expect(await screen.findByRole('alert')).toHaveProperty('textContent', 'User already registered');
  });
});
