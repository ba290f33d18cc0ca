import { describe, expect, it } from 'vitest';
import { type CompiledStatement, PreparedStatements } from './prepared-statements.ts';

const literal = (value: unknown) => `'${String(value)}'`;
const inline = (s: CompiledStatement) => `inline:${s.text}`;
const statement: CompiledStatement = { text: 'select * from agents where id = $1', params: ['a'] };

/** A connection that records what was sent to it, answering `fail` for PREPAREs if given. */
function connection(fail?: { code?: string }) {
  const sent: string[] = [];
  const send = async (text: string) => {
    sent.push(text);
    if (fail) throw Object.assign(new Error('refused'), fail);
  };
  return { sent, send };
}

describe('PreparedStatements', () => {
  it('prepares a statement once per connection and executes it with its values written in', async () => {
    const statements = new PreparedStatements(literal, inline);
    const a = connection();
    const b = connection();
    const first = await statements.forConnection(a, statement, a.send);
    const again = await statements.forConnection(a, { ...statement, params: ['b'] }, a.send);
    await statements.forConnection(b, statement, b.send);
    expect(a.sent).toHaveLength(1);
    expect(a.sent[0]).toMatch(/^prepare berth_[0-9a-f]{32} as select \* from agents where id = \$1$/);
    expect(b.sent).toHaveLength(1);
    const name = a.sent[0]!.split(' ')[1];
    expect(first).toBe(`execute ${name}('a')`);
    expect(again).toBe(`execute ${name}('b')`);
  });

  it('names a statement by its text, the same for every instance', async () => {
    const a = connection();
    const b = connection();
    await new PreparedStatements(literal, inline).forConnection(a, statement, a.send);
    await new PreparedStatements(literal, inline).forConnection(b, statement, b.send);
    expect(a.sent).toEqual(b.sent);
  });

  it('takes "already prepared" as prepared: the name stands for the same text', async () => {
    const statements = new PreparedStatements(literal, inline);
    const a = connection({ code: '42P05' });
    expect(await statements.forConnection(a, statement, a.send)).toMatch(/^execute berth_/);
    expect(await statements.forConnection(a, statement, a.send)).toMatch(/^execute berth_/);
    expect(a.sent).toHaveLength(1);
  });

  it('writes inline, from then on, a statement the server refuses to prepare', async () => {
    const statements = new PreparedStatements(literal, inline);
    const a = connection({ code: '42P18' });
    expect(await statements.forConnection(a, statement, a.send)).toBe(`inline:${statement.text}`);
    const b = connection();
    expect(await statements.forConnection(b, statement, b.send)).toBe(`inline:${statement.text}`);
    expect(b.sent).toEqual([]);
  });

  it('writes inline, and tries again next time, when the connection failed while preparing', async () => {
    const statements = new PreparedStatements(literal, inline);
    const a = connection({});
    expect(await statements.forConnection(a, statement, a.send)).toBe(`inline:${statement.text}`);
    const b = connection();
    expect(await statements.forConnection(b, statement, b.send)).toMatch(/^execute berth_/);
  });

  it('executes a statement without values by its name alone', async () => {
    const statements = new PreparedStatements(literal, inline);
    const a = connection();
    expect(await statements.forConnection(a, { text: 'select 1', params: [] }, a.send)).toMatch(
      /^execute berth_[0-9a-f]{32}$/,
    );
  });

  it('writes inline what a connection already holding its limit has not prepared', async () => {
    const statements = new PreparedStatements(literal, inline, 1);
    const a = connection();
    const other = { text: 'select 2', params: [] };
    expect(await statements.forConnection(a, statement, a.send)).toMatch(/^execute berth_/);
    expect(await statements.forConnection(a, other, a.send)).toBe('inline:select 2');
    expect(await statements.forConnection(a, statement, a.send)).toMatch(/^execute berth_/);
    expect(a.sent).toHaveLength(1);
  });

  it('prepares again on a connection it was told to forget', async () => {
    const statements = new PreparedStatements(literal, inline);
    const a = connection();
    await statements.forConnection(a, statement, a.send);
    statements.forget(a);
    await statements.forConnection(a, statement, a.send);
    expect(a.sent).toHaveLength(2);
  });
});
