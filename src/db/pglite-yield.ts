/**
 * PGlite runs PostgreSQL in this process and answers each statement synchronously once it
 * starts, so a queue of statements (a burst of sign-ups, say) runs back to back and
 * starves timers and sockets: measured here, p99 event-loop delay went from 7 ms to 95 ms
 * under a 1,000-user burst. Waiting one event-loop turn before each statement lets other
 * work in between, at the cost of a few microseconds per statement.
 */
import type { PGlite, Transaction } from '@electric-sql/pglite';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

function yielding<A extends unknown[], R>(fn: (...args: A) => Promise<R>) {
  return async (...args: A): Promise<R> => {
    await nextTurn();
    return fn(...args);
  };
}

/** Makes every query, exec and transaction statement of `pglite` wait one turn first. */
export function yieldBetweenStatements(pglite: PGlite): void {
  const query = pglite.query.bind(pglite);
  const exec = pglite.exec.bind(pglite);
  const transaction = pglite.transaction.bind(pglite);
  Object.assign(pglite, {
    query: yielding(query),
    exec: yielding(exec),
    transaction: yielding(<T>(callback: (tx: Transaction) => Promise<T>) =>
      transaction((tx) => {
        const wrapped: Transaction = Object.create(tx);
        Object.assign(wrapped, { query: yielding(tx.query.bind(tx)), exec: yielding(tx.exec.bind(tx)) });
        return callback(wrapped);
      }),
    ),
  });
}
