/**
 * Sign in or create an account, against berth's Supabase-compatible sign-in. Signing up
 * starts onboarding: berth generates the user's default SSH key in the background.
 */
import { type FormEvent, useState } from 'react';
import { useSession } from '../auth/session.tsx';
import { ErrorText } from './ui.tsx';

type Mode = 'sign-in' | 'sign-up';

export function AuthScreen() {
  const session = useSession();
  const [mode, setMode] = useState<Mode>('sign-in');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (mode === 'sign-in') await session.signIn(email.trim(), password);
      else await session.signUp(email.trim(), password);
    } catch (e) {
      setError(e instanceof Error ? e.message : 'That did not work. Try again.');
      setBusy(false);
    }
  };

  const switchTo = (next: Mode) => {
    setMode(next);
    setError(null);
  };

  return (
    <div className="auth">
      <div className="auth-brand">
        <p className="brand brand-large">
          <span className="brand-mark" aria-hidden="true" />
          berth
        </p>
        <p className="auth-pitch">Your own SSH keys, and a droplet for every agent, deployed with them.</p>
      </div>
      <main className="auth-card">
        <h1>{mode === 'sign-in' ? 'Sign in to berth' : 'Create your berth account'}</h1>
        <fieldset className="segmented">
          <legend className="visually-hidden">Sign in or create an account</legend>
          <button type="button" aria-pressed={mode === 'sign-in'} onClick={() => switchTo('sign-in')}>
            Sign in
          </button>
          <button type="button" aria-pressed={mode === 'sign-up'} onClick={() => switchTo('sign-up')}>
            Create account
          </button>
        </fieldset>
        {session.notice ? (
          <p className="callout" role="status">
            {session.notice}
          </p>
        ) : null}
        <form className="form" onSubmit={submit}>
          <div className="field">
            <label htmlFor="auth-email">Email</label>
            <input
              id="auth-email"
              type="email"
              autoComplete="email"
              required
              value={email}
              onChange={(e) => setEmail(e.target.value)}
            />
          </div>
          <div className="field">
            <label htmlFor="auth-password">Password</label>
            <input
              id="auth-password"
              type="password"
              autoComplete={mode === 'sign-in' ? 'current-password' : 'new-password'}
              required
              minLength={mode === 'sign-up' ? 8 : undefined}
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              aria-describedby={mode === 'sign-up' ? 'auth-password-hint' : undefined}
            />
            {mode === 'sign-up' ? (
              <p className="hint" id="auth-password-hint">
                At least 8 characters.
              </p>
            ) : null}
          </div>
          {error ? <ErrorText>{error}</ErrorText> : null}
          <button type="submit" className="button button-primary button-block" disabled={busy}>
            {busy ? 'One moment…' : mode === 'sign-in' ? 'Sign in' : 'Create account'}
          </button>
        </form>
      </main>
    </div>
  );
}
