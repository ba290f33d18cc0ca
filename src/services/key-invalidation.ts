/**
 * The key-change bus: when a user's keys change, every berth process drops its cached
 * deployment keys and key list for that user. A trigger on `user_ssh_keys` (migration
 * 0006) sends a NOTIFY for every change, whoever makes it, inside the changing
 * transaction, so the message goes out exactly when the change commits (and not at all
 * if it rolls back), and every process LISTENs on the same database. The key service
 * also publishes its changes here, which drops the shared (Redis) entry inside the
 * transaction: if that cannot be done, the publish throws and the change is rolled back,
 * so a delete that returned is a delete every process will honour.
 */
import pg from 'pg';
import type { EngineClient, Tx } from '../db/engine.ts';
import type { KeyCache } from './key-cache.ts';

export const KEY_CHANGES_CHANNEL = 'berth_key_changes';

export interface KeyChangeBus {
  /** Publishes inside `tx`; throws (so the caller rolls back) when it cannot. */
  publish(userId: string, tx: Tx): Promise<void>;
  /**
   * Resolves once every change committed before the call has been heard (and `onChange`
   * told of it): a round trip on the LISTEN connection, whose answer PostgreSQL sends
   * only after the notifications pending for it. Calls that arrive while one is in
   * flight share the next round trip. On PGlite (one process holds the database) and
   * while the connection is down it resolves at once: true when every change is known
   * to have been heard, false when that cannot be said (the connection is down or the
   * round trip failed), when a caller must not trust what the bus keeps fresh.
   */
  fence(): Promise<boolean>;
  close(): Promise<void>;
}

export interface KeyChangeBusOptions {
  engine: EngineClient;
  cache: KeyCache;
  /** The shared cache layer, dropped inside the transaction; null without Redis. */
  shared: KeyCache | null;
  onError?: (error: unknown) => void;
  /** Told of every change heard (after the cache above has dropped the entry, if it must). */
  onChange?: (userId: string) => void;
  /**
   * Told when changes stop being heard (the LISTEN connection dropped) and when they are
   * heard again, so that caches which only the bus keeps fresh stop trusting themselves.
   */
  onListening?: (listening: boolean) => void;
}

export async function startKeyChangeBus(options: KeyChangeBusOptions): Promise<KeyChangeBus> {
  const onMessage = (payload: string | undefined) => {
    if (!payload) return;
    // `<user>:registered` is a key's first DigitalOcean id (migration 0006): the
    // deployment keys cached for the user hold registered keys only, and stay right;
    // `<user>:credential` is a droplet credential revoked, which leaves them right too.
    const [userId, kind] = payload.split(':');
    if (!userId) return;
    if (kind !== 'registered' && kind !== 'credential')
      void options.cache.delete(userId).catch(options.onError ?? (() => {}));
    options.onChange?.(userId);
  };
  let stop: () => Promise<void>;
  let fence: () => Promise<boolean> = async () => true;
  if (options.engine.kind === 'pglite') {
    const unlisten = await options.engine.pglite.listen(KEY_CHANGES_CHANNEL, onMessage);
    stop = unlisten;
  } else {
    const listening = await listenOnServer(
      options.engine.url,
      onMessage,
      options.onError,
      options.onListening,
    );
    stop = listening.stop;
    fence = listening.fence;
  }
  return {
    // The NOTIFY itself comes from the trigger on `user_ssh_keys` (migration 0006), which
    // every change published here makes in the same transaction: sending it here too
    // would cost the change a round trip for a notice PostgreSQL folds into the other.
    async publish(userId, _tx) {
      await options.shared?.delete(userId);
    },
    fence: () => fence(),
    close: () => stop(),
  };
}

/**
 * LISTEN on a dedicated connection, reconnecting when it drops. While it is down this
 * process may hold stale entries, which is why the deploy path also re-checks keys
 * against the database in the statement that starts the create (store/environments.ts),
 * and why `onListening` tells the caches that have no such check.
 */
async function listenOnServer(
  url: string,
  onMessage: (payload: string | undefined) => void,
  onError: ((error: unknown) => void) | undefined,
  onListening: ((listening: boolean) => void) | undefined,
): Promise<{ stop: () => Promise<void>; fence: () => Promise<boolean> }> {
  let client: pg.Client | null = null;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  const connect = async () => {
    const c = new pg.Client({ connectionString: url });
    let listening = false;
    // An error and the end of the connection both mean notifications are no longer
    // heard; the server may also close the connection without an error first. A
    // connection that never got to LISTEN is the caller's failure to handle, not this.
    const onLost = (error?: unknown) => {
      if (error) onError?.(error);
      if (!listening || closed) return;
      listening = false;
      if (client === c) client = null;
      onListening?.(false);
      c.end().catch(() => {});
      retry = setTimeout(reconnect, 1000);
    };
    c.on('notification', (message) => onMessage(message.payload));
    c.on('error', onLost);
    c.on('end', () => onLost());
    try {
      await c.connect();
      await c.query(`LISTEN ${KEY_CHANGES_CHANNEL}`);
    } catch (error) {
      await c.end().catch(() => {});
      throw error;
    }
    listening = true;
    client = c;
    if (closed) await c.end().catch(() => {});
  };
  const reconnect = () => {
    connect()
      .then(() => onListening?.(true))
      .catch((error) => {
        onError?.(error);
        if (!closed) retry = setTimeout(reconnect, 1000);
      });
  };
  await connect();
  // A fence must be a round trip that starts after its caller asked: one in flight may
  // have been answered before the caller's change was heard. So callers join the round
  // trip queued behind the one in flight, and at most two exist at a time.
  let inFlight: Promise<boolean> | null = null;
  let queued: Promise<boolean> | null = null;
  const roundTrip = (): Promise<boolean> => {
    const c = client;
    if (!c || closed) return Promise.resolve(false);
    const done = c.query('select 1').then(
      () => true,
      () => false,
    );
    inFlight = done.finally(() => {
      if (inFlight === tracked) inFlight = null;
    });
    const tracked = inFlight;
    return tracked;
  };
  const fence = (): Promise<boolean> => {
    if (!inFlight) return roundTrip();
    queued ??= inFlight.then(() => {
      queued = null;
      return roundTrip();
    });
    return queued;
  };
  return {
    stop: async () => {
      closed = true;
      clearTimeout(retry);
      await client?.end().catch(() => {});
    },
    fence,
  };
}
