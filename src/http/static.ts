/**
 * Serves the built web UI (web/dist, made by `vite build`) at `/`. Hashed assets under
 * `/assets/` are cached for good; `index.html` is revalidated every time so a new build
 * shows at once. Any other GET that accepts HTML and names no file gets `index.html`, so
 * the UI's own addresses survive a reload. The API, the sign-in and the health routes
 * are registered before this and are never shadowed. When the UI has not been built the
 * page says how to build it, rather than a bare 404.
 */
import { readFile, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import type { Context, Hono } from 'hono';
import type { AppEnv } from './types.ts';

/** Only berth's own origin: the UI talks to the API and sign-in on the same origin. */
export const WEB_UI_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json',
};

/** Prefixes that belong to the server, never to the UI's own addresses. */
const SERVER_PREFIXES = ['/api/', '/auth/', '/healthz', '/readyz', '/metrics'];

const NOT_BUILT = `<!doctype html><html lang="en"><meta charset="utf-8"><title>berth</title>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; padding: 0 1rem">
<h1>The web UI is not built</h1>
<p>berth is running, but <code>web/dist</code> is missing. Build the UI with
<code>npm run build:web</code> (it also runs on <code>npm install</code>), then reload.</p>
<p>The API is at <a href="/api/docs">/api/docs</a>.</p></body></html>`;

export interface WebUiOptions {
  /** The folder `vite build` wrote: index.html and assets/. */
  root: string;
}

/**
 * The file inside `root` a request path names, or null when the path is not a plain
 * relative file path (encoded separators, dot segments, NUL) or would leave `root`.
 */
export function resolveAssetPath(root: string, urlPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const segments = decoded.split('/').filter(Boolean);
  if (segments.some((s) => s === '.' || s === '..' || s.startsWith('.'))) return null;
  const base = resolve(root);
  const file = resolve(base, ...segments);
  return file.startsWith(base + sep) ? file : null;
}

async function readIfFile(file: string): Promise<Buffer | null> {
  try {
    if (!(await stat(file)).isFile()) return null;
    return await readFile(file);
  } catch {
    return null;
  }
}

function uiHeaders(contentType: string, cacheControl: string): Record<string, string> {
  return {
    'content-type': contentType,
    'cache-control': cacheControl,
    'content-security-policy': WEB_UI_CSP,
    'x-content-type-options': 'nosniff',
  };
}

async function sendIndex(c: Context<AppEnv>, root: string) {
  const html = await readIfFile(join(root, 'index.html'));
  if (!html) return c.html(NOT_BUILT, 503, { 'cache-control': 'no-store' });
  return c.body(new Uint8Array(html), 200, uiHeaders(TYPES['.html']!, 'no-cache'));
}

/** Registers the UI's routes; pass it as `extraRoutes` so it comes after every API route. */
export function webUiRoutes(options: WebUiOptions): (app: Hono<AppEnv>) => void {
  const root = resolve(options.root);
  return (app) => {
    app.on(['GET', 'HEAD'], '*', async (c, next) => {
      const path = c.req.path;
      if (SERVER_PREFIXES.some((p) => path === p.replace(/\/$/, '') || path.startsWith(p))) return next();
      if (path === '/' || path === '/index.html') return sendIndex(c, root);
      const file = resolveAssetPath(root, path);
      const body = file ? await readIfFile(file) : null;
      if (file && body) {
        const type = TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
        const immutable = path.startsWith('/assets/');
        return c.body(
          new Uint8Array(body),
          200,
          uiHeaders(type, immutable ? 'public, max-age=31536000, immutable' : 'no-cache'),
        );
      }
      // An address of the UI itself (no file extension, a browser asking for a page).
      const wantsPage = !extname(path) && (c.req.header('accept') ?? '').includes('text/html');
      if (wantsPage) return sendIndex(c, root);
      return next();
    });
  };
}
