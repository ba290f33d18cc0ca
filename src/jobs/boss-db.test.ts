import { PgDialect } from 'drizzle-orm/pg-core';
import { describe, expect, it } from 'vitest';
import { withParameters } from './boss-db.ts';

const dialect = new PgDialect();

describe('withParameters', () => {
  it('rebuilds numbered parameters as bound drizzle parameters, in order of use', () => {
    const query = dialect.sqlToQuery(withParameters('select $2::int + $1, $2 as again', [1, 2]));
    expect(query.sql).toBe('select $1::int + $2, $3 as again');
    expect(query.params).toEqual([2, 1, 2]);
  });

  it('passes objects whole (as JSON for jsonb) and undefined as null', () => {
    const query = dialect.sqlToQuery(
      withParameters('insert into t values ($1::jsonb, $2)', [{ a: [1] }, undefined]),
    );
    expect(query.params).toEqual([{ a: [1] }, null]);
  });

  it('refuses a statement that refers to a value it was not given', () => {
    expect(() => withParameters('select $3', [1])).toThrow(/\$3/);
  });
});
