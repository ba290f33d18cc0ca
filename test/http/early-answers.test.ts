/**
 * Answers berth gives before it has read a request's body (413, 415, 401, 429), over a
 * real listener to real Node clients: node:http with a keep-alive agent, undici through
 * the global fetch, and a bare socket for a client that will not stop sending. Whatever
 * the answer says of the connection must hold: the client's next request is answered,
 * on the same connection when the answer kept it; and no body can hold a connection open
 * for long once its answer has gone.
 */
import { once } from 'node:events';
import { Agent, type ClientRequest, type IncomingHttpHeaders, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInternalApp } from '../../src/http/internal-app.ts';
import { type Listener, listen } from '../../src/http/server.ts';
import { openTestDatabase, type TestDatabase } from '../support/db.ts';
import { buildApi, silentLogger, tokenFor } from './support.ts';

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  reusedSocket: boolean;
}

interface EarlyRequest {
  path: string;
  headers: Record<string, string | number>;
  /** Sent before the answer is awaited. */
  first: Buffer;
  /** Sent once the answer has come, unless it said the connection closes. */
  rest: Buffer;
}

/**
 * A POST whose body is only partly sent when berth answers, as a slow link or a large
 * body leaves it. After an answer that keeps the connection the client sends the rest,
 * as it must before its next request; after `Connection: close` it stops, as undici does.
 */
function early(url: string, agent: Agent, r: EarlyRequest): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${r.path}`, { method: 'POST', agent, headers: r.headers });
    req.on('error', reject);
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => {
        const answer = { status: res.statusCode ?? 0, headers: res.headers, reusedSocket: req.reusedSocket };
        if (res.headers.connection === 'close') {
          req.off('error', reject).on('error', () => {});
          req.destroy();
          resolve(answer);
        } else {
          sendSlowly(req, r.rest).then(() => resolve(answer), reject);
        }
      });
    });
    req.write(r.first);
  });
}

/** The rest of a body as a slow link delivers it: a piece at a time, each on its own. */
async function sendSlowly(req: ClientRequest, rest: Buffer): Promise<void> {
  for (let at = 0; at < rest.length; at += 16_384) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    req.write(rest.subarray(at, at + 16_384));
  }
  await new Promise<void>((resolve) => req.end(() => resolve()));
}

function get(url: string, agent: Agent, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { agent, headers }, (res) => {
      res.resume();
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, reusedSocket: req.reusedSocket }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * An early answer, then the next request through the same agent, which holds one
 * connection at most: a kept connection is the one the next request takes.
 */
async function thenNext(
  url: string,
  first: EarlyRequest,
  next: { path: string; headers: Record<string, string> },
) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const answer = await early(url, agent, first);
    return { answer, next: await get(url, agent, next.path, next.headers) };
  } finally {
    agent.destroy();
  }
}

const KEY_IMPORT = '/api/ssh-keys/import';
const json = { 'content-type': 'application/json' };
/** A body berth's 64 KiB limit lets through, of which the first kilobyte comes at once. */
const SHORT = { first: Buffer.alloc(1_000, 0x20), rest: Buffer.alloc(59_000, 0x20) };
/** A body past the limit, announced by its length or (without one) sent chunked. */
const LONG = { first: Buffer.alloc(70_000, 0x20), rest: Buffer.alloc(200_000, 0x20) };

/**
 * A bare connection for a client that sends what it likes, starting a POST with the
 * given header lines; the text it gets back, and its end.
 */
async function rawPost(url: string, ...lines: string[]) {
  const { port } = new URL(url);
  // Half open allowed: a client that takes no notice of berth's end of the connection.
  const socket = connect({ port: Number(port), host: '127.0.0.1', allowHalfOpen: true });
  await once(socket, 'connect');
  let text = '';
  socket.on('data', (data: Buffer) => {
    text += data.toString('latin1');
  });
  // berth may reset a connection it has cut off; what matters is that it ends.
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(
    `POST ${KEY_IMPORT} HTTP/1.1\r\nhost: berth.test\r\n${lines.map((l) => `${l}\r\n`).join('')}\r\n`,
  );
  return { socket, closed, received: () => text };
}

/** A chunk of a chunked body holding `size` bytes. */
const chunk = (size: number) =>
  Buffer.concat([Buffer.from(`${size.toString(16)}\r\n`), Buffer.alloc(size, 0x20), Buffer.from('\r\n')]);

/** Writes `piece` every `ms` milliseconds until the socket closes. */
function trickle(socket: Socket, piece: Buffer, ms: number): void {
  const timer = setInterval(() => {
    if (socket.writable) socket.write(piece);
    else clearInterval(timer);
  }, ms);
  socket.once('close', () => clearInterval(timer));
}

describe('answers given before the body is read, on the public listener', () => {
  let t: TestDatabase;
  let server: Listener;

  beforeAll(async () => {
    t = await openTestDatabase('pglite');
    // One costly call a minute per user, so that a test can meet the limit.
    const { app } = buildApi(t, { rateLimits: { userPerMinute: 1, ipPerMinute: 0 } });
    server = await listen(app.fetch, { port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  const signedIn = async () => ({ authorization: `Bearer ${await tokenFor(await t.createUser())}` });
  const keyList = (headers: Record<string, string>) => ({ path: '/api/ssh-keys', headers });

  it('keeps the connection after a 401 given before a short body, and serves the next request on it', async () => {
    const auth = await signedIn();
    const headers = { ...json, 'content-length': 60_000 };
    const { answer, next } = await thenNext(
      server.url,
      { path: KEY_IMPORT, headers, ...SHORT },
      keyList(auth),
    );
    expect(answer).toMatchObject({ status: 401, headers: { connection: 'keep-alive' } });
    expect(next).toMatchObject({ status: 200, reusedSocket: true });
  });

  it('keeps the connection after a 415 given before a short body', async () => {
    const auth = await signedIn();
    const headers = { ...auth, 'content-type': 'text/plain', 'content-length': 60_000 };
    const { answer, next } = await thenNext(
      server.url,
      { path: KEY_IMPORT, headers, ...SHORT },
      keyList(auth),
    );
    expect(answer).toMatchObject({ status: 415, headers: { connection: 'keep-alive' } });
    expect(next).toMatchObject({ status: 200, reusedSocket: true });
  });

  it('keeps the connection after a 429 given before a short body', async () => {
    const auth = await signedIn();
    // The minute's one import, refused for its body but counted.
    const spent = await early(server.url, new Agent(), {
      path: KEY_IMPORT,
      headers: { ...auth, ...json, 'content-length': 2 },
      first: Buffer.from('{}'),
      rest: Buffer.alloc(0),
    });
    expect(spent.status).toBe(400);
    const headers = { ...auth, ...json, 'content-length': 60_000 };
    const { answer, next } = await thenNext(
      server.url,
      { path: KEY_IMPORT, headers, ...SHORT },
      keyList(auth),
    );
    expect(answer).toMatchObject({ status: 429, headers: { connection: 'keep-alive' } });
    expect(next).toMatchObject({ status: 200, reusedSocket: true });
  });

  it.each([
    ['the declared length', { 'content-length': LONG.first.length + LONG.rest.length }],
    // Without a length node:http sends the body chunked.
    ['a chunked body grown past the limit', {}],
  ])('says it closes the connection after a 413 for %s, and serves the next request', async (_, length) => {
    const auth = await signedIn();
    const headers = { ...auth, ...json, ...length };
    const { answer, next } = await thenNext(
      server.url,
      { path: KEY_IMPORT, headers, ...LONG },
      keyList(auth),
    );
    expect(answer).toMatchObject({ status: 413, headers: { connection: 'close' } });
    expect(next.status).toBe(200);
  });

  it("answers fetch's next request after a 413, as the client that reported it sent them", async () => {
    const headers = { ...(await signedIn()), ...json };
    const body = JSON.stringify({ name: 'x', public_key: 'a'.repeat(2_000_000) });
    // Several rounds: whether undici is still sending when the 413 comes varies.
    for (let round = 0; round < 5; round++) {
      const refused = await fetch(`${server.url}${KEY_IMPORT}`, { method: 'POST', headers, body });
      expect(refused.status).toBe(413);
      await refused.text();
      const next = await fetch(`${server.url}/api/ssh-keys`, { headers });
      expect(next.status).toBe(200);
      await next.text();
    }
  });

  const chunked = ['content-type: application/json', 'transfer-encoding: chunked'];

  it.concurrent('cuts off a client that goes on sending a chunked body after its 413', {
    timeout: 30_000,
  }, async () => {
    const client = await rawPost(server.url, ...chunked);
    // A body without end, as fast as the connection takes it.
    const piece = chunk(0x10000);
    const pump = () => {
      while (client.socket.writable && client.socket.write(piece)) {}
    };
    client.socket.on('drain', pump);
    pump();
    await client.closed;
    expect(client.received()).toMatch(/^HTTP\/1\.1 413 /);
    expect(client.received().toLowerCase()).toContain('\r\nconnection: close\r\n');
  });

  it.concurrent('cuts off a client that trickles a chunked body after its 413', {
    timeout: 30_000,
  }, async () => {
    const client = await rawPost(server.url, ...chunked);
    client.socket.write(chunk(70_000));
    // A byte at a time from then on: never idle, never much.
    trickle(client.socket, chunk(1), 100);
    await client.closed;
    expect(client.received()).toMatch(/^HTTP\/1\.1 413 /);
  });

  it.concurrent('cuts off a client that never finishes a short body after its 401', {
    timeout: 30_000,
  }, async () => {
    const client = await rawPost(server.url, 'content-type: application/json', 'content-length: 60000');
    client.socket.write(SHORT.first);
    trickle(client.socket, Buffer.from(' '), 100);
    await client.closed;
    expect(client.received()).toMatch(/^HTTP\/1\.1 401 /);
    expect(client.received().toLowerCase()).toContain('\r\nconnection: keep-alive\r\n');
  });
});

describe('answers given before the body is read, on the internal listener', () => {
  const SECRET = 'internal-secret-for-tests-0123456789abcdef';
  const secret = { 'x-internal-api-secret': SECRET };
  let server: Listener;

  beforeAll(async () => {
    // Every request here is answered before any route runs.
    const registration = { enhancedUserRegistration: () => Promise.reject(new Error('no route runs here')) };
    const app = createInternalApp({ secret: SECRET, logger: silentLogger, registration });
    server = await listen(app.fetch, { port: 0, host: '127.0.0.1' });
  });
  afterAll(() => server?.close());

  const path = '/internal/users/00000000-0000-4000-8000-000000000000/onboard';
  const nothingHere = { path: '/internal/nothing-here', headers: secret };

  it('keeps the connection after a 401 given before a short body', async () => {
    const headers = { ...json, 'content-length': 60_000 };
    const { answer, next } = await thenNext(server.url, { path, headers, ...SHORT }, nothingHere);
    expect(answer).toMatchObject({ status: 401, headers: { connection: 'keep-alive' } });
    expect(next).toMatchObject({ status: 404, reusedSocket: true });
  });

  it('says it closes the connection after a 413, and serves the next request', async () => {
    const headers = { ...secret, ...json, 'content-length': LONG.first.length + LONG.rest.length };
    const { answer, next } = await thenNext(server.url, { path, headers, ...LONG }, nothingHere);
    expect(answer).toMatchObject({ status: 413, headers: { connection: 'close' } });
    expect(next.status).toBe(404);
  });
});
