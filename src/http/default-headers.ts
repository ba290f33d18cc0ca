/**
 * The headers berth puts on its answers whatever the route: the security headers for
 * documents on the web UI's answers, and on the API's the headers an API needs, among
 * them a locking-down Content-Security-Policy and `Cache-Control: no-store` (answers about
 * a user are theirs alone). A route may set its own value of any of them (the API docs
 * page has its own CSP), and the route's wins.
 *
 * Served by Node, the headers are handed to berth's Node response before the route runs,
 * which writes them with the answer's own (node.ts says why). Without it (tests calling
 * `app.request`), they are set on the answer afterwards, with the same result.
 */
import type { MiddlewareHandler } from 'hono';
import { berthResponse } from './node.ts';
import type { AppEnv } from './types.ts';

/** What hono/secure-headers sets by default, without the cross-origin embedder and resource policies. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'cross-origin-opener-policy': 'same-origin',
  'origin-agent-cluster': '?1',
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=15552000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-frame-options': 'SAMEORIGIN',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0',
};

export const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

/**
 * The API answers JSON, never a document, so it gets the set OWASP's REST Security
 * Cheat Sheet names for APIs rather than the browser-document headers above (opener
 * policy, agent cluster, DNS prefetch, download options, cross-domain policies, the XSS
 * auditor), which mean nothing for JSON and cost every answer their bytes.
 */
export const API_HEADERS: Readonly<Record<string, string>> = {
  'strict-transport-security': SECURITY_HEADERS['strict-transport-security'] as string,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'content-security-policy': API_CSP,
  'cache-control': 'no-store',
};

export function defaultHeaders(): MiddlewareHandler<AppEnv> {
  const api = Object.entries(API_HEADERS);
  const other = Object.entries(SECURITY_HEADERS);
  const apiLines = api.flat();
  const otherLines = other.flat();
  // Not an async function: on the Node path it adds no promise of its own to the request.
  return (c, next) => {
    const path = c.req.path;
    const isApi = path.startsWith('/api/') || path.startsWith('/auth/');
    const outgoing = berthResponse(c);
    if (outgoing) {
      // Written with the answer's own headers, the answer's value of any taking precedence.
      outgoing.defaults = isApi ? apiLines : otherLines;
      return next();
    }
    const headers = isApi ? api : other;
    return next().then(() => {
      for (const [name, value] of headers) if (!c.res.headers.has(name)) c.res.headers.set(name, value);
    });
  };
}
