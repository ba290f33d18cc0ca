/**
 * Pieces of the onboarding benchmark that are not the benchmark itself: a clock that runs
 * faster than real time (so a run bound by DigitalOcean's per-minute limit takes seconds,
 * not minutes), a fetch that records every DigitalOcean call, the fastest schedule the
 * rate budget allows for a number of calls, and a throwaway database.
 */
import { randomUUID } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { type DatabaseHandle, openDatabase } from '../src/db/engine.ts';
import { type Clock, computeWait, type RateLimits, windowsFor } from '../src/digitalocean/client/index.ts';

/**
 * Time that passes `scale` times faster than real time, from now on. Everything that
 * counts DigitalOcean's windows gets this clock (the emulator's limiter, berth's rate
 * budget, the client's retry sleeps), so the limits keep their meaning (250 per minute
 * of this clock) while a minute lasts 60/scale real seconds. What is not scaled: CPU,
 * the database and network round trips, which therefore weigh `scale` times more in the
 * scaled figures than they would at real speed: the scaling can only make berth look
 * slower than it is.
 */
export function scaledClock(scale: number): Clock {
  const origin = Date.now();
  return {
    now: () => origin + (Date.now() - origin) * scale,
    sleep: async (ms, signal) => {
      await sleep(ms / scale, undefined, signal ? { signal } : undefined);
    },
  };
}

export interface CallRecord {
  method: string;
  path: string;
  status: number;
  /** Scaled-clock times (ms) of the request and of its answer. */
  startedAt: number;
  endedAt: number;
}

/** A fetch that forwards to the real one and records each call (never headers or bodies). */
export function recordingFetch(clock: Clock): { fetch: typeof fetch; calls: CallRecord[] } {
  const calls: CallRecord[] = [];
  const recorded: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    const startedAt = clock.now();
    const response = await fetch(request);
    calls.push({
      method: request.method,
      path: new URL(request.url).pathname,
      status: response.status,
      startedAt,
      endedAt: clock.now(),
    });
    return response;
  };
  return { fetch: recorded, calls };
}

/**
 * The earliest time (ms after the first call) the last of `calls` background calls can
 * be sent, as berth's rate budget computes windows: each call goes at the first moment
 * every window (hour and minute, less the deploy reserve) has room.
 */
export function minimumBackgroundSpanMs(calls: number, limits: RateLimits): number {
  const windows = windowsFor('background', limits);
  const sent: number[] = [];
  let now = 0;
  for (let i = 0; i < calls; i++) {
    now += computeWait(sent, now, windows);
    sent.push(now);
  }
  return now;
}

/** The same for a caller allowed the whole per-minute limit (no deploy reserve). */
export function minimumFullLimitSpanMs(calls: number, limits: RateLimits): number {
  return minimumBackgroundSpanMs(calls, { ...limits, deployReserve: 0 });
}

/**
 * An empty database: PGlite in memory, or a new database on the PostgreSQL server that
 * `adminUrl` reaches, dropped again by `close`.
 */
export async function openBenchDatabase(adminUrl: string | undefined): Promise<DatabaseHandle> {
  if (!adminUrl) return openDatabase({ kind: 'pglite', dataDir: null });
  const name = `berth_bench_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const handle = await openDatabase({ kind: 'postgres', url: url.toString(), poolSize: 20 });
  return {
    ...handle,
    async close() {
      await handle.close();
      const dropper = new pg.Client({ connectionString: adminUrl });
      await dropper.connect();
      await dropper.query(`drop database if exists ${name} with (force)`);
      await dropper.end();
    },
  };
}

const _nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The engine change this benchmark argues for, applied to one PGlite instance (berth's
 * engine does not do it yet). PGlite runs a statement synchronously inside WASM and
 * resolves its promise at once, so a queue of statements (a burst of sign-ups, sixteen
 * jobs) runs back to back as microtasks and starves the event loop: timers, sockets and
 * HTTP requests wait until the whole queue has run. Waiting one macrotask turn before
 * each statement lets the event loop in between statements.
 */
/**
 * monitorEventLoopDelay records the time between the turns of its own timer, which
 * includes the timer's interval: an idle loop reads about RESOLUTION_MS. The delay is
 * what exceeds it.
 */
export const RESOLUTION_MS = 10;

/** p99 event-loop delay (ms) while `during` runs: the machine's noise floor when idle. */
export async function eventLoopDelayP99(during: () => Promise<unknown>): Promise<number> {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  await during();
  histogram.disable();
  return histogram.percentile(99) / 1e6 - RESOLUTION_MS;
}
