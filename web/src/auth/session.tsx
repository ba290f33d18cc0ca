/**
 * The signed-in session, from berth's Supabase-compatible sign-in through the real
 * `@supabase/supabase-js` auth client (berth serves `/auth/v1`). The client keeps the
 * session in localStorage and refreshes the access token before it expires; this
 * provider follows its events and offers sign-up, sign-in and sign-out to the UI.
 */
import type { Session, SupabaseClient } from '@supabase/supabase-js';
import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useState } from 'react';

export type AuthClient = Pick<
  SupabaseClient['auth'],
  'getSession' | 'onAuthStateChange' | 'signInWithPassword' | 'signUp' | 'signOut'
>;

export type SessionStatus = 'loading' | 'signed-out' | 'signed-in';

export interface SessionValue {
  status: SessionStatus;
  session: Session | null;
  /** Why the user was signed out, when it was not their doing. */
  notice: string | null;
  signIn(email: string, password: string): Promise<void>;
  signUp(email: string, password: string): Promise<void>;
  signOut(): Promise<void>;
  /** The API answered 401: the session is over. */
  expire(): void;
}

const SessionContext = createContext<SessionValue | null>(null);

export function SessionProvider({
  auth,
  onSignedOut,
  children,
}: {
  auth: AuthClient;
  /** Drops whatever the previous user's session had loaded. */
  onSignedOut?: () => void;
  children: ReactNode;
}) {
  const [session, setSession] = useState<Session | null>(null);
  const [status, setStatus] = useState<SessionStatus>('loading');
  const [notice, setNotice] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    void auth.getSession().then(({ data }) => {
      if (!live) return;
      setSession(data.session);
      setStatus(data.session ? 'signed-in' : 'signed-out');
    });
    const { data } = auth.onAuthStateChange((_event, next) => {
      setSession(next);
      setStatus(next ? 'signed-in' : 'signed-out');
      if (!next) onSignedOut?.();
    });
    return () => {
      live = false;
      data.subscription.unsubscribe();
    };
  }, [auth, onSignedOut]);

  const signIn = useCallback(
    async (email: string, password: string) => {
      const { error } = await auth.signInWithPassword({ email, password });
      if (error) throw new Error(error.message);
      setNotice(null);
    },
    [auth],
  );

  const signUp = useCallback(
    async (email: string, password: string) => {
      const { data, error } = await auth.signUp({ email, password });
      if (error) throw new Error(error.message);
      if (!data.session) throw new Error('Your account was created. Sign in to continue.');
      setNotice(null);
    },
    [auth],
  );

  const signOut = useCallback(async () => {
    await auth.signOut({ scope: 'local' });
  }, [auth]);

  const expire = useCallback(() => {
    setNotice('Your session ended. Sign in again to continue.');
    void auth.signOut({ scope: 'local' });
  }, [auth]);

  const value = useMemo(
    () => ({ status, session, notice, signIn, signUp, signOut, expire }),
    [status, session, notice, signIn, signUp, signOut, expire],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSession needs a <SessionProvider> above it');
  return value;
}
