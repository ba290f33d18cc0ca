/**
 * Opens berth's database on one of its two engines and hides which one it is: PGlite
 * (real PostgreSQL compiled to WASM, embedded, data in a directory) by default, or a
 * PostgreSQL server through a node-postgres pool when a URL is given. Both come back
 * as the same drizzle database type, so the rest of berth runs the same SQL on either.
 */
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { ExtractTablesWithRelations } from 'drizzle-orm';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import pg from 'pg';
import {
  DATABASE_SUBDIRECTORY,
  type MadePrivate,
  makeFilesPrivate,
  prepareDataDirectory,
} from './data-dir.ts';
import { acquireDirectoryLock, type DirectoryLock } from './lock.ts';
import { yieldBetweenStatements } from './pglite-yield.ts';
import * as schema from './schema.ts';

export type Schema = typeof schema;
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
export type Tx = PgTransaction<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>;
/** Anything queries can run on: the database itself or an open transaction. */
export type Executor = Db | Tx;

export type DatabaseOptions =
  | { kind: 'postgres'; url: string; poolSize?: number }
  | { kind: 'pglite'; dataDir: string | null };

/** Raw access to the engine, for the parts that need more than drizzle (queues, LISTEN). */
export type EngineClient =
  | { kind: 'postgres'; pool: pg.Pool; url: string }
  | { kind: 'pglite'; pglite: PGlite };

export interface DatabaseHandle {
  readonly db: Db;
  readonly engine: EngineClient;
  /** Set when opening made an open, still empty data directory private; callers say so. */
  readonly madePrivate: MadePrivate | null;
  close(): Promise<void>;
}

// node-postgres returns bigint (int8) columns as strings by default; berth's int8
// columns are DigitalOcean ids, which fit a JavaScript number.
pg.types.setTypeParser(20, (value) => Number.parseInt(value, 10));

export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  if (options.kind === 'postgres') {
    const pool = new pg.Pool({ connectionString: options.url, max: options.poolSize ?? 20 });
    // A pool error on an idle client (the server restarted, say) must not crash the
    // process: the next query gets a fresh connection.
    pool.on('error', () => {});
    const db = drizzlePg(pool, { schema }) as unknown as Db;
    return {
      db,
      engine: { kind: 'postgres', pool, url: options.url },
      madePrivate: null,
      close: () => pool.end(),
    };
  }
  let lock: DirectoryLock | null = null;
  let madePrivate: MadePrivate | null = null;
  if (options.dataDir) {
    madePrivate = prepareDataDirectory(options.dataDir);
    lock = acquireDirectoryLock(options.dataDir);
  }
  try {
    const pgdata = options.dataDir ? join(options.dataDir, DATABASE_SUBDIRECTORY) : null;
    const pglite = pgdata ? new PGlite(pgdata) : new PGlite();
    await pglite.waitReady;
    if (pgdata) {
      // PGlite has now unpacked its initial database (files 0666) or opened the one there.
      try {
        makeFilesPrivate(pgdata);
      } catch (error) {
        await pglite.close();
        throw error;
      }
    }
    yieldBetweenStatements(pglite);
    const db = drizzlePglite(pglite, { schema }) as unknown as Db;
    return {
      db,
      engine: { kind: 'pglite', pglite },
      madePrivate,
      close: async () => {
        await pglite.close();
        lock?.release();
      },
    };
  } catch (error) {
    lock?.release();
    throw error;
  }
}
