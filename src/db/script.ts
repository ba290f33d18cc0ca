/**
 * Several statements sent to the database as one simple-protocol query, answered in one
 * round trip. PostgreSQL runs such a query as a single implicit transaction (unless it
 * contains its own BEGIN/COMMIT), so settings made with `set_config(…, true)` in its first
 * statement hold for the rest and vanish at its end. berth uses it for the hot reads
 * (see `Authz.readAsUser`): a transaction through drizzle costs four round trips for a
 * single SELECT, and on a busy machine each round trip's socket write is what an
 * authenticated read spends most of its CPU on.
 *
 * The simple protocol has no parameters: values must already be inlined as literals,
 * which `inlineStatement` does for drizzle's `sql` fragments.
 */
import type { SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import type { EngineClient } from './engine.ts';

export type Row = Record<string, unknown>;

/** Runs a script of statements; answers the rows of the last one. */
export type ScriptRunner = (text: string) => Promise<Row[]>;

export function scriptRunner(engine: EngineClient): ScriptRunner {
  if (engine.kind === 'postgres') {
    return async (text) => {
      // node-postgres answers one result for one statement and an array for several.
      const result = (await engine.pool.query(text)) as unknown as { rows: Row[] } | { rows: Row[] }[];
      return Array.isArray(result) ? (result.at(-1)?.rows ?? []) : result.rows;
    };
  }
  return async (text) => {
    const results = await engine.pglite.exec(text);
    return (results.at(-1)?.rows ?? []) as Row[];
  };
}

/**
 * Literals are written as escape strings (`E'…'`, with `\` and `'` doubled), whose
 * meaning does not depend on the server's `standard_conforming_strings`.
 */
class ScriptDialect extends PgDialect {
  override escapeString(value: string): string {
    return literal(value);
  }
}

const dialect = new ScriptDialect();

/** The SQL text of a drizzle fragment with its values written in as literals. */
export function inlineStatement(statement: SQL): string {
  const query = dialect.sqlToQuery(statement.inlineParams());
  if (query.params.length > 0) throw new TypeError('a script statement kept bound parameters');
  return query.sql;
}

/**
 * A string as a SQL literal that means the same under any `standard_conforming_strings`,
 * for text sent without parameters (scripts, and pg-boss's queue creation).
 */
export function literal(value: string): string {
  return `E'${value.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
}
