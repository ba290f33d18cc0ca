/**
 * Wakes idle workers the moment a job is sent, on any berth process sharing the
 * database: the sender NOTIFYs a channel with the queue's name, and every queue LISTENs
 * on it and fetches at once. A job then reaches a worker in milliseconds instead of
 * after the polling interval. Polling stays as the fallback: a notification lost while
 * the listening connection reconnects, a retry whose delay ran out, or a job inserted
 * by pg-boss's own clock is still found by the next poll.
 *
 * A NOTIFY sent inside a transaction is delivered when it commits, and not at all if
 * it rolls back, so a job enqueued with the user row wakes workers exactly when it
 * becomes visible to them.
 */
import type { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type { Logger } from '../observability/logger.ts';

export const JOBS_CHANNEL = 'berth_jobs';

/** The statement (and its one parameter, the queue name) that wakes workers of a queue. */
export const NOTIFY_SQL = `select pg_notify('${JOBS_CHANNEL}', $1)`;

/** `null` means "anything may have been missed": wake every queue. */
export type WakeHandler = (queue: string | null) => void;

export interface Wakeups {
  start(onWake: WakeHandler): Promise<void>;
  close(): Promise<void>;
}

export function pgliteWakeups(pglite: PGlite): Wakeups {
  let unlisten: (() => Promise<void>) | null = null;
  return {
    async start(onWake) {
      unlisten = await pglite.listen(JOBS_CHANNEL, (payload) => onWake(payload || null));
    },
    async close() {
      await unlisten?.().catch(() => {});
      unlisten = null;
    },
  };
}

/**
 * A dedicated connection (LISTEN needs one that is not returned to a pool), reconnected
 * with backoff when it drops; after a reconnect every queue is woken, since
 * notifications sent meanwhile are gone.
 */
export function postgresWakeups(url: string, logger: Logger): Wakeups {
  let client: pg.Client | null = null;
  let closed = false;
  let failures = 0;
  let retryTimer: NodeJS.Timeout | null = null;
  let onWake: WakeHandler = () => {};

  const connect = async (): Promise<void> => {
    const next = new pg.Client({ connectionString: url, application_name: 'berth: job wakeups' });
    next.on('notification', (message) => {
      if (message.channel === JOBS_CHANNEL) onWake(message.payload || null);
    });
    const lost = (error?: Error) => {
      if (closed || client !== next) return;
      client = null;
      next.removeAllListeners('end');
      next.end().catch(() => {});
      logger.warn({ err: error }, 'job wakeup connection lost; polling until it is back');
      schedule();
    };
    next.on('error', lost);
    next.on('end', () => lost());
    client = next;
    try {
      await next.connect();
      await next.query(`LISTEN ${JOBS_CHANNEL}`);
    } catch (error) {
      client = null;
      next.removeAllListeners('end');
      await next.end().catch(() => {});
      throw error;
    }
    if (failures > 0) onWake(null);
    failures = 0;
  };

  const schedule = () => {
    if (closed || retryTimer) return;
    const delay = Math.min(30_000, 500 * 2 ** failures);
    failures += 1;
    retryTimer = setTimeout(() => {
      retryTimer = null;
      if (closed) return;
      connect().catch((error) => {
        logger.warn(
          { err: error, retryInMs: Math.min(30_000, 500 * 2 ** failures) },
          'job wakeup reconnect failed',
        );
        schedule();
      });
    }, delay);
    retryTimer.unref();
  };

  return {
    async start(handler) {
      onWake = handler;
      await connect();
    },
    async close() {
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      const current = client;
      client = null;
      await current?.end().catch(() => {});
    },
  };
}
