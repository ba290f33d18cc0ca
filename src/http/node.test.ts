import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BerthResponse } from './node.ts';

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

/** Serves one answer written by `answer` through a BerthResponse; what a client gets. */
async function answerOf(answer: (res: BerthResponse) => void) {
  server = createServer({ ServerResponse: BerthResponse }, (_req, res) => answer(res as BerthResponse));
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const res = await fetch(`http://127.0.0.1:${port}/`);
  const body = await res.text();
  const headers: IncomingHttpHeaders = Object.fromEntries(res.headers);
  return { status: res.status, statusText: res.statusText, headers, body };
}

async function headersOf(answer: (res: BerthResponse) => void): Promise<IncomingHttpHeaders> {
  return (await answerOf(answer)).headers;
}

/** The code of the error writeHead throws, as `write` calls it (the answer then ends). */
async function refusalOf(write: (res: BerthResponse) => void): Promise<string | undefined> {
  let thrown: unknown;
  await headersOf((res) => {
    try {
      write(res);
    } catch (error) {
      thrown = error;
    }
    res.end();
  });
  return (thrown as { code?: string } | undefined)?.code;
}

const DEFAULTS = ['x-frame-options', 'DENY', 'cache-control', 'no-store'];

describe('BerthResponse', () => {
  it('writes the request id and the defaults with the answer’s own headers', async () => {
    const headers = await headersOf((res) => {
      res.requestId = 'r-1';
      res.defaults = DEFAULTS;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
    expect(headers).toMatchObject({
      'content-type': 'application/json',
      'x-request-id': 'r-1',
      'x-frame-options': 'DENY',
      'cache-control': 'no-store',
    });
  });

  it('lets the answer’s own value win, whatever the case of its name', async () => {
    const headers = await headersOf((res) => {
      res.requestId = 'r-1';
      res.defaults = DEFAULTS;
      res.writeHead(200, { 'Cache-Control': 'max-age=60', 'X-Request-Id': 'own' });
      res.end();
    });
    expect(headers['cache-control']).toBe('max-age=60');
    expect(headers['x-request-id']).toBe('own');
    expect(headers['x-frame-options']).toBe('DENY');
  });

  it('lets a value set with setHeader win too', async () => {
    const headers = await headersOf((res) => {
      res.defaults = DEFAULTS;
      res.setHeader('x-frame-options', 'SAMEORIGIN');
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end();
    });
    expect(headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(headers['cache-control']).toBe('no-store');
  });

  it('takes headers given as a list, and a status message', async () => {
    const res = await answerOf((berth) => {
      berth.defaults = DEFAULTS;
      berth.writeHead(418, 'Short and stout', [
        'x-frame-options',
        'SAMEORIGIN',
        'content-type',
        'text/plain',
      ]);
      berth.end('tea');
    });
    expect(res.status).toBe(418);
    expect(res.statusText).toBe('Short and stout');
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toBe('tea');
  });

  it('refuses a header list of odd length as Node does', async () => {
    const code = await refusalOf((res) => {
      res.defaults = DEFAULTS;
      res.writeHead(200, ['content-type'] as unknown as string[]);
    });
    expect(code).toBe('ERR_INVALID_ARG_VALUE');
  });

  it('reads its arguments as Node does: headers after an undefined message, or as a list of pairs', async () => {
    const second = await headersOf((res) => {
      res.defaults = DEFAULTS;
      res.writeHead(200, undefined, { 'cache-control': 'private' });
      res.end();
    });
    expect(second['cache-control']).toBe('private');
    expect(second['x-frame-options']).toBe('DENY');
    const pairs = await headersOf((res) => {
      res.defaults = DEFAULTS;
      res.writeHead(200, [['cache-control', 'private'] as unknown as string]);
      res.end();
    });
    expect(pairs['cache-control']).toBe('private');
    expect(pairs['x-frame-options']).toBe('DENY');
  });

  it('refuses a header without a value as Node does', async () => {
    const code = await refusalOf((res) => {
      res.requestId = 'r-3';
      res.writeHead(200, { 'x-empty': undefined });
    });
    expect(code).toBe('ERR_HTTP_INVALID_HEADER_VALUE');
  });

  it('writes the defaults on an answer that never calls writeHead', async () => {
    const headers = await headersOf((res) => {
      res.requestId = 'r-2';
      res.defaults = DEFAULTS;
      res.end('implicit');
    });
    expect(headers['x-request-id']).toBe('r-2');
    expect(headers['cache-control']).toBe('no-store');
  });

  it('answers as Node’s own response does when nothing was handed to it', async () => {
    const headers = await headersOf((res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('plain');
    });
    expect(headers['content-type']).toBe('text/plain');
    expect(headers['x-request-id']).toBeUndefined();
    expect(headers['cache-control']).toBeUndefined();
  });
});
