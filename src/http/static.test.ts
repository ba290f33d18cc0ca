import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveAssetPath, WEB_UI_CSP, webUiRoutes } from './static.ts';
import type { AppEnv } from './types.ts';

function appOver(root: string) {
  const app = new Hono<AppEnv>();
  app.get('/api/agents', (c) => c.json({ agents: [] }));
  app.notFound((c) => c.json({ code: 'not-found' }, 404));
  webUiRoutes({ root })(app);
  return app;
}

describe('the web UI routes', () => {
  let root: string;
  let app: Hono<AppEnv>;

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'berth-web-'));
    mkdirSync(join(root, 'assets'));
    writeFileSync(join(root, 'index.html'), '<!doctype html><title>berth</title>');
    writeFileSync(join(root, 'assets', 'index-abc123.js'), 'console.log(1)');
    writeFileSync(join(root, 'favicon.svg'), '<svg/>');
    writeFileSync(join(root, '.secret'), 'hidden');
    app = appOver(root);
  });

  it('serves index.html at / with a same-origin CSP, revalidated on every load', async () => {
    const res = await app.request('/');
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<title>berth</title>');
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('content-security-policy')).toBe(WEB_UI_CSP);
  });

  it('serves hashed assets with their type, cached for good', async () => {
    const res = await app.request('/assets/index-abc123.js');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(res.headers.get('cache-control')).toContain('immutable');
    expect(await res.text()).toBe('console.log(1)');
  });

  it("answers a browser's navigation to a UI address with index.html", async () => {
    const res = await app.request('/keys', { headers: { accept: 'text/html,application/xhtml+xml' } });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<title>berth</title>');
  });

  it('leaves the API, missing assets and hidden files to the 404 handler', async () => {
    expect((await app.request('/api/agents')).status).toBe(200);
    const api = await app.request('/api/nothing', { headers: { accept: 'text/html' } });
    expect(api.status).toBe(404);
    expect(await api.json()).toEqual({ code: 'not-found' });
    expect((await app.request('/assets/missing.js')).status).toBe(404);
    expect((await app.request('/.secret')).status).toBe(404);
  });

  it('never reads outside the build folder', async () => {
    for (const path of ['/../package.json', '/%2e%2e/package.json', '/assets/..%2f..%2fpackage.json']) {
      const res = await app.request(path);
      expect(res.status).toBe(404);
    }
    expect(resolveAssetPath(root, '/%2e%2e/x')).toBeNull();
    expect(resolveAssetPath(root, '/a\\..\\b')).toBeNull();
    expect(resolveAssetPath(root, '/%E0%A4%A')).toBeNull();
    expect(resolveAssetPath(root, '/assets/a.js')).toBe(join(root, 'assets', 'a.js'));
  });

  it('explains how to build the UI when it has not been built', async () => {
    const empty = appOver(mkdtempSync(join(tmpdir(), 'berth-web-empty-')));
    const res = await empty.request('/');
    expect(res.status).toBe(503);
    expect(await res.text()).toContain('npm run build:web');
  });
});
