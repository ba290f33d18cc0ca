/**
 * berth's web UI: the sign-in screen until there is a session, then the shell with the
 * two pages (agents, SSH keys) under the onboarding status.
 */
import { useSession } from './auth/session.tsx';
import { AgentsPage } from './components/AgentsPage.tsx';
import { AuthScreen } from './components/AuthScreen.tsx';
import { SSHKeyManager } from './components/SSHKeyManager.tsx';
import { SSHKeyStatus } from './components/SSHKeyStatus.tsx';
import { Spinner } from './components/ui.tsx';
import { useHashRoute } from './lib/route.ts';

export function App() {
  const session = useSession();
  if (session.status === 'loading') {
    return (
      <div className="splash">
        <Spinner label="Loading berth…" />
      </div>
    );
  }
  if (session.status === 'signed-out') return <AuthScreen />;
  return <Shell />;
}

function Shell() {
  const session = useSession();
  const route = useHashRoute();
  const email = session.session?.user.email;
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <a className="brand" href="#/agents">
          <span className="brand-mark" aria-hidden="true" />
          berth
        </a>
        <nav aria-label="Main">
          <a href="#/agents" aria-current={route === 'agents' ? 'page' : undefined}>
            Agents
          </a>
          <a href="#/keys" aria-current={route === 'keys' ? 'page' : undefined}>
            SSH keys
          </a>
        </nav>
        <div className="account">
          {email ? <span className="account-email">{email}</span> : null}
          <button type="button" className="button button-small" onClick={() => session.signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <SSHKeyStatus />
        {route === 'keys' ? <SSHKeyManager /> : <AgentsPage />}
      </main>
      <footer className="footer">
        <a href="/api/docs">API documentation</a>
      </footer>
    </div>
  );
}
