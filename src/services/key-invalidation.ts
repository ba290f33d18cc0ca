/**
 * The key-change bus: when a user's keys change, every berth process drops its cached
 * deployment keys for that user. Changes are published with PostgreSQL's NOTIFY inside
 * the changing transaction, so the message goes out exactly when the change commits (and
 * not at all if it rolls back), and every process LISTENs on the same database. If the
 * shared cache layer cannot drop the entry, the publish throws and the change is rolled
 * back: a delete that returned is a delete every process will honour.
 */
import { sql } from 'drizzle-orm';
import pg from 'pg';
import type { EngineClient, Tx } from '../db/engine.ts';
import type { KeyCache } from './key-cache.ts';

export const KEY_CHANGES_CHANNEL = 'berth_key_changes';

export interface KeyChangeBus {
  /** Publishes inside `tx`; throws (so the caller rolls back) when it cannot. */
  publish(userId: string, tx: Tx): Promise<void>;
  close(): Promise<void>;
}

export interface KeyChangeBusOptions {
  engine: EngineClient;
  cache: KeyCache;
  /** The shared cache layer, dropped inside the transaction; null without Redis. */
  shared: KeyCache | null;
  onError?: (error: unknown) => void;
}

export async function startKeyChangeBus(options: KeyChangeBusOptions): Promise<KeyChangeBus> {
  const onMessage = (userId: string | undefined) => {
    if (userId) void options.cache.delete(userId).catch(options.onError ?? (() => {}));
  };
  let stop: () => Promise<void>;
  if (options.engine.kind === 'pglite') {
    const unlisten = await options.engine.pglite.listen(KEY_CHANGES_CHANNEL, onMessage);
    stop = unlisten;
  } else {
    stop = await listenOnServer(options.engine.url, onMessage, options.onError);
  }
  return {
    async publish(userId, tx) {
      await options.shared?.delete(userId);
      await tx.execute(sql`select pg_notify(${KEY_CHANGES_CHANNEL}, ${userId})`);
    },
    close: () => stop(),
  };
}

/**
 * LISTEN on a dedicated connection, reconnecting when it drops. While it is down this
 * process may hold stale entries, which is why the deploy path also re-checks keys
 * against the database in the statement that starts the create (store/environments.ts).
 */
async function listenOnServer(
  url: string,
  onMessage: (payload: string | undefined) => void,
  onError: ((error: unknown) => void) | undefined,
): Promise<() => Promise<void>> {
  let client: pg.Client | null = null;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  const connect = async () => {
    const c = new pg.Client({ connectionString: url });
    c.on('notification', (message) => onMessage(message.payload));
    c.on('error', (error) => {
      onError?.(error);
      c.end().catch(() => {});
      if (!closed) retry = setTimeout(() => void connect().catch(onError), 1000);
    });
    await c.connect();
    await c.query(`LISTEN ${KEY_CHANGES_CHANNEL}`);
    client = c;
  };
  await connect();
  return async () => {
    closed = true;
    clearTimeout(retry);
    await client?.end().catch(() => {});
  };
}
