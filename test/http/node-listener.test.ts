/**
 * The API served by Node, as berth serves it: the steps every request passes through
 * read headers from Node's parsed request and write them to Node's response (src/http/
 * node.ts), and the token check takes a remembered token without its pattern. Requests
 * go out through node:http, so a test can send exactly the header lines it means to.
 */
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenVerifier } from '../../src/auth/jwt.ts';
import { cacheVerifiedTokens } from '../../src/auth/verified-tokens.ts';
import { berthResponse } from '../../src/http/node.ts';
import { type Listener, listen } from '../../src/http/server.ts';
import { openTestDatabase, type TestDatabase } from '../support/db.ts';
import { buildApi, TEST_ISSUER, TEST_SECRET, tokenFor } from './support.ts';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
}

/** A GET with the given header lines, repeated names included, in the order given. */
function get(url: string, path: string, headers: [string, string][]): Promise<Answer> {
  return new Promise((resolve, reject) => {
    // Given as raw lines, the headers go out as they are: without the Host line Node
    // adds to a headers object, which HTTP/1.1 requires.
    const lines = [['host', new URL(url).host], ...headers].flat();
    const req = httpRequest(`${url}${path}`, { method: 'GET', headers: lines }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the API served by Node', () => {
  let t: TestDatabase;
  let server: Listener;
  let token: string;

  beforeAll(async () => {
    t = await openTestDatabase('pglite');
    const verifier = cacheVerifiedTokens(createTokenVerifier({ secret: TEST_SECRET, issuer: TEST_ISSUER }));
    const { app } = buildApi(t, {
      auth: { verifier },
      // Says whether the request reached its route with berth's Node response under it:
      // without it every step here would take the fetch API's path and pass as well.
      extraRoutes: (routes) =>
        routes.get('/probe', (c) => c.json({ berthResponse: berthResponse(c) !== null })),
    });
    server = await listen(app.fetch, { port: 0, host: '127.0.0.1' });
    token = await tokenFor(await t.createUser());
  });
  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  it("serves every request with berth's own Node response", async () => {
    const res = await fetch(`${server.url}/probe`);
    expect(await res.json()).toEqual({ berthResponse: true });
  });

  it("answers with the caller's request id, read from Node's request", async () => {
    const res = await get(server.url, '/api/ssh-keys', [
      ['authorization', `Bearer ${token}`],
      ['x-request-id', 'caller-id-1'],
    ]);
    expect(res.status).toBe(200);
    expect(res.headers['x-request-id']).toBe('caller-id-1');
  });

  it('gives a fresh id when the caller sends two, as it does for any id it will not take', async () => {
    const res = await get(server.url, '/healthz', [
      ['x-request-id', 'first'],
      ['x-request-id', 'second'],
    ]);
    // Node joins the two ("first, second"), which is no sane id.
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("puts the API's headers on an API answer through Node's response", async () => {
    const res = await get(server.url, '/api/ssh-keys', [['authorization', `Bearer ${token}`]]);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-type']).toBe('application/json');
  });

  it('accepts a remembered token in every form the bearer pattern accepts', async () => {
    const forms = [`Bearer ${token}`, `bearer ${token}`, `BEARER   ${token}`, `Bearer ${token}\t`];
    for (const header of forms) {
      const res = await get(server.url, '/api/ssh-keys', [['authorization', header]]);
      expect(res.status, header).toBe(200);
    }
  });

  it('refuses a remembered token with anything more after it', async () => {
    expect((await get(server.url, '/api/ssh-keys', [['authorization', `Bearer ${token}`]])).status).toBe(200);
    for (const header of [`Bearer ${token}x`, `Bearer ${token} x`, `Bearer ${token},`, `Bearer  ${token}.`]) {
      const res = await get(server.url, '/api/ssh-keys', [['authorization', header]]);
      // A header the pattern does not take is as good as none; a token it takes is checked.
      expect(res.status, header).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="berth"/);
    }
  });

  it('refuses two Authorization lines, even when the first holds a remembered token', async () => {
    expect((await get(server.url, '/api/ssh-keys', [['authorization', `Bearer ${token}`]])).status).toBe(200);
    // Node's parsed headers keep only the first line; as the fetch API does, berth reads
    // both, joined, which no bearer token matches.
    const res = await get(server.url, '/api/ssh-keys', [
      ['authorization', `Bearer ${token}`],
      ['authorization', `Bearer ${token}`],
    ]);
    expect(res.status).toBe(401);
  });

  it('refuses a request without a token, naming the scheme', async () => {
    const res = await get(server.url, '/api/ssh-keys', []);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="berth"');
  });
});
