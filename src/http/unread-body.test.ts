import { once } from 'node:events';
import { Agent, createServer, IncomingMessage, request, type Server } from 'node:http';
import { type AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BerthResponse } from './node.ts';
import { dropUnreadBody, KEEP_LIMIT_BYTES, unreadBody } from './unread-body.ts';

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** A server answering every request through berth's response, as `handle` says. */
async function serve(handle: (req: IncomingMessage, res: BerthResponse) => void): Promise<string> {
  server = createServer({ ServerResponse: BerthResponse }, (req, res) => handle(req, res as BerthResponse));
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

interface Answer {
  status: number;
  connection: string | undefined;
  reusedSocket: boolean;
}

function send(url: string, agent: Agent, method: string, body?: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent }, (res) => {
      res.resume();
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          connection: res.headers.connection,
          reusedSocket: req.reusedSocket,
        }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('an answer that leaves a request body unread', () => {
  it('keeps the connection when it answers a request without a body before Node has parsed it to its end', async () => {
    // Answered within the request event, before the parser reaches the request's end.
    const url = await serve((_req, res) => res.end('ok'));
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    expect(await send(url, agent, 'GET')).toMatchObject({ status: 200, connection: 'keep-alive' });
    expect(await send(url, agent, 'DELETE')).toMatchObject({ status: 200, reusedSocket: true });
    expect(await send(url, agent, 'GET')).toMatchObject({ status: 200, reusedSocket: true });
    agent.destroy();
  });

  it('says it closes the connection when a long body is still to come, and closes it once the client has it', async () => {
    let socketClosed: Promise<unknown> | undefined;
    const url = await serve((req, res) => {
      if (req.method === 'POST') {
        socketClosed = once(req.socket, 'close');
        res.statusCode = 413;
      }
      res.end();
    });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    // node:http sends all of it, announced by its length, after the answer has come.
    const refused = await send(url, agent, 'POST', Buffer.alloc(500_000, 0x20));
    expect(refused).toMatchObject({ status: 413, connection: 'close' });
    await socketClosed;
    expect(await send(url, agent, 'GET')).toMatchObject({ status: 200, reusedSocket: false });
    agent.destroy();
  });
});

/** A request as Node's parser leaves it: its header lines, and whether it has all come. */
function parsed(headers: string[], complete: boolean): IncomingMessage {
  const req = new IncomingMessage(new Socket());
  req.rawHeaders = ['Host', 'berth.test', ...headers];
  req.complete = complete;
  return req;
}

describe('what an answer leaves of a request body', () => {
  it('is nothing for a request without a body, parsed to its end or not', () => {
    expect(unreadBody(parsed([], true))).toBeUndefined();
    expect(unreadBody(parsed([], false))).toBeUndefined();
    expect(unreadBody(parsed(['Content-Length', '0'], false))).toBeUndefined();
  });

  it('is nothing for a body that has come and that nobody took, which Node drops itself', () => {
    const req = parsed(['Content-Length', '10'], true);
    req.push(Buffer.alloc(10));
    expect(unreadBody(req)).toBeUndefined();
  });

  it('keeps the connection for a short body still to come, and closes it for a longer or chunked one', () => {
    expect(unreadBody(parsed(['content-length', String(KEEP_LIMIT_BYTES)], false))).toBe('keep');
    expect(unreadBody(parsed(['Content-Length', String(KEEP_LIMIT_BYTES + 1)], false))).toBe('close');
    expect(unreadBody(parsed(['Transfer-Encoding', 'chunked'], false))).toBe('close');
  });

  it('drops what a reader that stopped reading left of a body that has come in full', async () => {
    const req = parsed(['Content-Length', '2000'], true);
    // A reader that takes one chunk and stops, as a web stream with a full queue does.
    req.on('data', () => req.pause());
    req.push(Buffer.alloc(1_000));
    req.push(Buffer.alloc(1_000));
    req.push(null);
    await new Promise((resolve) => setImmediate(resolve));
    const what = unreadBody(req);
    expect(what).toBe('drop');
    const ended = once(req, 'end');
    if (what) dropUnreadBody(req, what);
    await ended;
  });
});
