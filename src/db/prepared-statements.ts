/**
 * Server-side prepared statements for scripts (`script.ts`). A script goes out as one
 * simple-protocol query, which has no parameters and no plan cache: PostgreSQL would
 * parse and plan each of its statements on every run, and planning an INSERT under
 * row-level security, with its ON CONFLICT, foreign keys and RETURNING, costs more than
 * running it (about half a millisecond of a brand-new user's first deploy). So each
 * statement's text is PREPAREd once on each connection, and scripts EXECUTE it with their
 * values written in as literals; PostgreSQL's plan cache then stops planning it.
 *
 * A statement is named by a hash of its text, so the same name means the same statement
 * on any connection, for any number of callers. What cannot be prepared (a statement
 * whose parameter types PostgreSQL cannot infer, or one past a connection's limit) is
 * written inline instead, which is slower and otherwise the same.
 */
import { createHash } from 'node:crypto';
import type { SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';

/** Prepared statements one connection may hold by default; past it, statements are inlined. */
const PER_CONNECTION = 500;

const dialect = new PgDialect();

export interface CompiledStatement {
  text: string;
  params: unknown[];
}

/** A drizzle statement as PostgreSQL text with `$n` placeholders, and its values. */
export function compile(statement: SQL): CompiledStatement {
  const query = dialect.sqlToQuery(statement);
  return { text: query.sql, params: query.params };
}

export class PreparedStatements {
  private readonly preparedOn = new WeakMap<object, Set<string>>();
  /** Texts PREPARE refused: written inline from then on. */
  private readonly refused = new Set<string>();

  private readonly literal: (value: unknown) => string;
  private readonly inline: (statement: CompiledStatement) => string;
  private readonly perConnection: number;

  constructor(
    literal: (value: unknown) => string,
    inline: (statement: CompiledStatement) => string,
    perConnection = PER_CONNECTION,
  ) {
    this.literal = literal;
    this.inline = inline;
    this.perConnection = perConnection;
  }

  /**
   * Forgets what `connection` holds, after its prepared statements went stale: a
   * migration changed a table under them, which PostgreSQL reports on every run
   * ("cached plan must not change result type") until they are prepared again.
   */
  forget(connection: object): void {
    this.preparedOn.delete(connection);
  }

  /**
   * The text to send for `statement` on `connection`: an EXECUTE of the statement,
   * prepared first (a round trip, once per connection) if this connection lacks it.
   */
  async forConnection(
    connection: object,
    statement: CompiledStatement,
    send: (text: string) => Promise<unknown>,
  ): Promise<string> {
    if (this.refused.has(statement.text)) return this.inline(statement);
    let prepared = this.preparedOn.get(connection);
    if (!prepared) {
      prepared = new Set();
      this.preparedOn.set(connection, prepared);
    }
    const name = `berth_${createHash('sha256').update(statement.text).digest('hex').slice(0, 32)}`;
    if (!prepared.has(name)) {
      if (prepared.size >= this.perConnection) return this.inline(statement);
      try {
        await send(`prepare ${name} as ${statement.text}`);
      } catch (error) {
        // Prepared already (by a caller whose bookkeeping this is not): the same text.
        if (codeOf(error) !== '42P05') {
          if (codeOf(error)) this.refused.add(statement.text);
          return this.inline(statement);
        }
      }
      prepared.add(name);
    }
    if (statement.params.length === 0) return `execute ${name}`;
    return `execute ${name}(${statement.params.map(this.literal).join(', ')})`;
  }
}

/** Whether a script failed because a statement prepared on its connection went stale. */
export function isStalePlan(error: unknown): boolean {
  return codeOf(error) === '0A000' && /cached plan must not change result type/.test(String(error));
}

/** A PostgreSQL error's SQLSTATE, when the error came from the server. */
function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}
