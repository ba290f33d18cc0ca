/**
 * Several statements sent to the database as one simple-protocol query, answered in one
 * round trip. PostgreSQL runs such a query as a single implicit transaction (unless it
 * contains its own BEGIN/COMMIT), so settings made with `set_config(…, true)` in its first
 * statement hold for the rest and vanish at its end. berth uses it for the hot reads
 * (see `Authz.readAsUser`) and for the cold deploy's writes (`Authz.scriptAsUser`): a
 * transaction through drizzle costs a round trip per statement plus BEGIN and COMMIT,
 * and on a busy machine each round trip's socket write is what such a request spends
 * most of its time on. If any statement fails, the whole script rolls back.
 *
 * The simple protocol has no parameters: each statement is prepared once per connection
 * (`prepared-statements.ts`) and the script EXECUTEs it with its values written in as
 * literals.
 */
import { type SQL, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import type { EngineClient } from './engine.ts';
import { type CompiledStatement, compile, isStalePlan, PreparedStatements } from './prepared-statements.ts';

export type Row = Record<string, unknown>;

/** Runs statements as one script; answers the rows of each statement, in order. */
export type ScriptRunner = (statements: SQL[]) => Promise<Row[][]>;

export function scriptRunner(engine: EngineClient): ScriptRunner {
  const prepared = new PreparedStatements(valueLiteral, placeValues);
  const textOn = async (connection: object, statements: SQL[], send: (text: string) => Promise<unknown>) => {
    const parts: string[] = [];
    for (const statement of statements)
      parts.push(await prepared.forConnection(connection, compile(statement), send));
    return parts.join(';\n');
  };
  if (engine.kind === 'postgres') {
    return async (statements) => {
      const client = await engine.pool.connect();
      let broken: Error | undefined;
      try {
        const text = await textOn(client, statements, (t) => client.query(t));
        // node-postgres answers one result for one statement and an array for several.
        const result = (await client.query(text)) as unknown as { rows: Row[] } | { rows: Row[] }[];
        return Array.isArray(result) ? result.map((r) => r.rows) : [result.rows];
      } catch (error) {
        // The server refused a statement: the connection is fine, unless what it refused
        // is a prepared statement gone stale, which fails on every run there. Anything
        // else (a dropped socket) means it must not go back to the pool either.
        if (!(error instanceof pg.DatabaseError) || isStalePlan(error)) broken = error as Error;
        throw error;
      } finally {
        client.release(broken);
      }
    };
  }
  const { pglite } = engine;
  return async (statements) => {
    const text = await textOn(pglite, statements, (t) => pglite.exec(t));
    try {
      const results = await pglite.exec(text);
      return results.map((r) => r.rows as Row[]);
    } catch (error) {
      // PGlite's one connection stays: its stale statements go instead.
      if (isStalePlan(error)) {
        prepared.forget(pglite);
        await pglite.exec('deallocate all');
      }
      throw error;
    }
  };
}

/**
 * A script's first statement when its commit need not wait for the WAL to reach disk:
 * for writes whose loss in a database crash berth recovers from by itself. A later
 * transaction that does wait flushes this one's WAL too (WAL is written in order).
 */
export const commitWithoutWaiting: SQL = sql`select set_config('synchronous_commit', 'off', true)`;

/**
 * A drizzle database with no connection, for building statements that go into a script
 * (`db.insert(…).values(…).getSQL()`): the same SQL a connected drizzle would send.
 */
export const statementBuilder = drizzle.mock();

/** The SQL text of a drizzle fragment with its values written in as literals. */
export function inlineStatement(statement: SQL): string {
  return placeValues(compile(statement));
}

/**
 * A compiled statement's text with each value written in by its kind. drizzle's own
 * `inlineParams` writes a Buffer as its UTF-8 text, which is why this exists.
 * Placeholders come only from drizzle, never from a value: values are not in the text
 * until this replaces them.
 */
function placeValues(statement: CompiledStatement): string {
  let used = 0;
  const text = statement.text.replace(/\$(\d+)/g, (_, n: string) => {
    used++;
    return valueLiteral(statement.params[Number(n) - 1]);
  });
  if (used !== statement.params.length)
    throw new TypeError('a script statement did not place all its values');
  return text;
}

function valueLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number' || typeof value === 'bigint') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError('not a finite number');
    return `(${value})`;
  }
  if (typeof value === 'string') return literal(value);
  // bytea's hex input format, which PostgreSQL reads whatever bytea_output is.
  if (value instanceof Uint8Array) return literal(`\\x${Buffer.from(value).toString('hex')}`);
  if (value instanceof Date) return literal(value.toISOString());
  return literal(JSON.stringify(value));
}

/**
 * A string as a SQL literal that means the same under any `standard_conforming_strings`
 * (an escape string, `E'…'`, with `\` and `'` doubled), for script text, which is sent
 * without parameters.
 */
function literal(value: string): string {
  return `E'${value.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
}
