/**
 * Test helpers for the DigitalOcean client: a tiny programmable HTTP server (node:http, so
 * a test can drop a connection or never answer, which a fetch mock cannot show honestly)
 * and a manual clock for the rate budget. Used by the client's tests only.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DigitalOceanClient } from './client.ts';
import { type Clock, InMemoryRateBudget } from './rate-budget.ts';

export interface StubCall {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: unknown;
}

export type StubReply =
  | { status: number; body?: unknown; headers?: Record<string, string> }
  | { drop: true }
  | { hang: true };

export interface Stub {
  url: string;
  calls: StubCall[];
  close(): Promise<void>;
}

/** Starts a server on a free loopback port answering every request with `handler`. */
export async function startStub(handler: (call: StubCall) => StubReply | Promise<StubReply>): Promise<Stub> {
  const calls: StubCall[] = [];
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://stub');
    const call: StubCall = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body: text ? JSON.parse(text) : undefined,
    };
    calls.push(call);
    const reply = await handler(call);
    if ('drop' in reply) {
      req.socket.destroy();
      return;
    }
    if ('hang' in reply) return;
    const payload = reply.body === undefined ? '' : JSON.stringify(reply.body);
    res.writeHead(reply.status, {
      ...(payload ? { 'content-type': 'application/json' } : {}),
      ...reply.headers,
    });
    res.end(payload);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface ManualClock extends Clock {
  /** Moves time forward, waking every sleeper that is due, in order. */
  advance(ms: number): Promise<void>;
  pending(): number;
}

export function manualClock(start = 1_700_000_000_000): ManualClock {
  let now = start;
  let sleepers: { at: number; resolve: () => void }[] = [];
  const flush = () => new Promise<void>((resolve) => setImmediate(resolve));
  return {
    now: () => now,
    sleep(ms, signal) {
      return new Promise<void>((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        const sleeper = { at: now + ms, resolve };
        sleepers.push(sleeper);
        signal?.addEventListener('abort', () => {
          sleepers = sleepers.filter((s) => s !== sleeper);
          reject(signal.reason);
        });
      });
    },
    async advance(ms) {
      const target = now + ms;
      await flush();
      for (;;) {
        const due = sleepers.filter((s) => s.at <= target).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        sleepers = sleepers.filter((s) => s !== due);
        now = Math.max(now, due.at);
        due.resolve();
        await flush();
      }
      now = target;
      await flush();
    },
    pending: () => sleepers.length,
  };
}

/** A minimal droplet as DigitalOcean's schema requires it, for stub answers. */
export function fakeDroplet(id: number, tags: string[], name = `droplet-${id}`): Record<string, unknown> {
  return {
    id,
    name,
    memory: 1024,
    vcpus: 1,
    disk: 25,
    locked: false,
    status: 'new',
    created_at: '2026-01-01T00:00:00Z',
    features: [],
    backup_ids: [],
    next_backup_window: null,
    snapshot_ids: [],
    image: {},
    volume_ids: [],
    size: {},
    size_slug: 's-1vcpu-1gb',
    networks: {},
    region: {},
    tags,
  };
}

/**
 * A client for stub-server tests: fast, fixed backoff (no jitter) and generous
 * per-attempt timeouts, which keep exact call counts honest on a loaded machine; only
 * the test of a server that never answers passes a short one.
 */
export function clientFor(url: string, createAttempts = 3, timeoutMs = 2000): DigitalOceanClient {
  return new DigitalOceanClient({
    baseUrl: url,
    token: () => 'test-token',
    rateBudget: new InMemoryRateBudget({ serverDelayFloorMs: 10, serverDelayCeilingMs: 100 }),
    timeoutMs,
    retry: {
      maxRetries: 2,
      baseDelayMs: 5,
      maxDelayMs: 20,
      serverDelayFloorMs: 10,
      serverDelayCeilingMs: 100,
    },
    random: () => 0.5,
    createAttempts,
  });
}
