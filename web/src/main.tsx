/**
 * The web UI's entry point and composition root: the sign-in client (supabase-js against
 * berth's own origin), the typed API client that takes its access token from it, the
 * query cache, and the providers that hand them down.
 */
import { createClient } from '@supabase/supabase-js';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { StrictMode, useMemo, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.tsx';
import { ApiError, createApiClient } from './api/client.ts';
import { ApiProvider } from './api/context.tsx';
import { type AuthClient, SessionProvider, useSession } from './auth/session.tsx';
import './styles/base.css';
import './styles/layout.css';
import './styles/controls.css';
import './styles/surfaces.css';
import './styles/status-and-sign-in.css';

function newQueryClient() {
  return new QueryClient({
    defaultOptions: {
      queries: {
        // A 4xx will not change by asking again; a network blip or a 5xx might.
        retry: (count, error) =>
          count < 2 && !(error instanceof ApiError && error.status >= 400 && error.status < 500),
        staleTime: 5_000,
      },
    },
  });
}

function Root({ auth, origin }: { auth: AuthClient; origin: string }) {
  const [queryClient] = useState(newQueryClient);
  // A signed-out user's data must not show to whoever signs in next.
  const [clear] = useState(() => () => queryClient.clear());
  return (
    <SessionProvider auth={auth} onSignedOut={clear}>
      <QueryClientProvider client={queryClient}>
        <Api auth={auth} origin={origin} />
      </QueryClientProvider>
    </SessionProvider>
  );
}

/** The API client, built once per session provider: a 401 from berth ends the session. */
function Api({ auth, origin }: { auth: AuthClient; origin: string }) {
  const { expire } = useSession();
  const api = useMemo(
    () =>
      createApiClient({
        baseUrl: origin,
        getAccessToken: async () => (await auth.getSession()).data.session?.access_token ?? null,
        onUnauthorized: expire,
      }),
    [auth, origin, expire],
  );
  return (
    <ApiProvider client={api}>
      <App />
    </ApiProvider>
  );
}

const origin = window.location.origin;
// berth checks no anonymous key; supabase-js insists on one, so it gets a placeholder.
const supabase = createClient(origin, 'berth-embedded-auth', {
  auth: {
    persistSession: true,
    autoRefreshToken: true,
    detectSessionInUrl: false,
    storageKey: 'berth-session',
  },
});

const element = document.getElementById('root');
if (!element) throw new Error('index.html has no #root');
createRoot(element).render(
  <StrictMode>
    <Root auth={supabase.auth} origin={origin} />
  </StrictMode>,
);
