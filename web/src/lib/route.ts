/**
 * The UI's two pages live in the address's hash (`#/agents`, `#/keys`), so the back
 * button, reloads and links work without any server routing.
 */
import { useEffect, useState } from 'react';

export type Route = 'agents' | 'keys';

export function routeFromHash(hash: string): Route {
  return hash.replace(/^#\/?/, '').split(/[/?]/)[0] === 'keys' ? 'keys' : 'agents';
}

export function useHashRoute(): Route {
  const [route, setRoute] = useState<Route>(() => routeFromHash(window.location.hash));
  useEffect(() => {
    const follow = () => setRoute(routeFromHash(window.location.hash));
    window.addEventListener('hashchange', follow);
    return () => window.removeEventListener('hashchange', follow);
  }, []);
  return route;
}
