/**
 * Data access for `user_ssh_keys`. Functions take the executor they run on, which is a
 * `withUser` or `asService` transaction: this module never decides who may see a row,
 * the database's policies do. Rows leave as `UserSshKey`, a shape with no secret id
 * and no private material, so nothing above can leak what it never received.
 */
import { and, eq, isNull, type SQL, sql } from 'drizzle-orm';
import type { Executor } from '../db/engine.ts';
import { compile } from '../db/prepared-statements.ts';
import { userSshKeys } from '../db/schema.ts';
import { statementBuilder } from '../db/script.ts';

export interface UserSshKey {
  id: string;
  userId: string;
  name: string;
  algorithm: string;
  source: 'generated' | 'imported';
  isDefault: boolean;
  publicKey: string;
  fingerprintSha256: string;
  fingerprintMd5: string;
  digitaloceanKeyId: number | null;
  hasPrivateKey: boolean;
  privateKeyDownloaded: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewSshKeyRow {
  id: string;
  userId: string;
  name: string;
  algorithm: string;
  source: 'generated' | 'imported';
  isDefault: boolean;
  publicKey: string;
  fingerprintSha256: string;
  fingerprintMd5: string;
  privateKeySecretId: string | null;
  privateKeyDownloaded: boolean;
}

const publicColumns = {
  id: userSshKeys.id,
  userId: userSshKeys.userId,
  name: userSshKeys.keyName,
  algorithm: userSshKeys.algorithm,
  source: userSshKeys.source,
  isDefault: userSshKeys.isDefault,
  publicKey: userSshKeys.publicKey,
  fingerprintSha256: userSshKeys.fingerprintSha256,
  fingerprintMd5: userSshKeys.fingerprintMd5,
  digitaloceanKeyId: userSshKeys.digitaloceanKeyId,
  hasPrivateKey: sql<boolean>`(${userSshKeys.privateKeySecretId} is not null)`,
  privateKeyDownloaded: sql<boolean>`(${userSshKeys.privateKeyDownloadedAt} is not null)`,
  createdAt: userSshKeys.createdAt,
  updatedAt: userSshKeys.updatedAt,
};

/**
 * Inserts a key unless it would be a second default key, in which case it returns
 * null: the partial unique index decides, so concurrent callers cannot both win.
 */
export async function insertKey(
  tx: Executor,
  row: NewSshKeyRow,
  options: InsertKeyOptions = {},
): Promise<UserSshKey | null> {
  const result = (await tx.execute(insertKeyStatement(row, options))) as unknown as {
    rows: Record<string, unknown>[];
  };
  return result.rows[0] ? keyFromRow(result.rows[0]) : null;
}

/** What goes in with a key, and when it goes in at all (see `insertKeyStatement`). */
export interface InsertKeyOptions {
  alongside?: ((keyInserted: SQL) => SQL)[];
  unlessKeyed?: boolean;
}

/**
 * The statement behind `insertKey`, for a transaction or a script: it returns the key
 * as `keyFromRow` reads it, or no row when the key gave way to the user's default key.
 *
 * `alongside` are inserts made by the same statement only if the key went in (given the
 * condition to add): a generated key's vault secret, its audit row. The key's foreign
 * key to its secret is checked at the end of the statement, when both rows are there,
 * and a key that gave way leaves nothing behind.
 *
 * With `unlessKeyed`, the key goes in only if the user has no key at all, and when it
 * does not, the statement returns the keys the user has instead. Those are read in the
 * statement's snapshot, taken before it started: a caller whose insert gave way to a
 * default key committed meanwhile gets no row, and must read again.
 */
export function insertKeyStatement(row: NewSshKeyRow, options: InsertKeyOptions = {}): SQL {
  const values = sql.join(
    [
      sql`${row.id}::uuid`,
      sql`${row.userId}::uuid`,
      sql`${row.name}`,
      sql`${row.algorithm}`,
      sql`${row.source}`,
      sql`${row.isDefault}::boolean`,
      sql`${row.publicKey}`,
      sql`${row.fingerprintSha256}`,
      sql`${row.fingerprintMd5}`,
      sql`${row.privateKeySecretId}::uuid`,
      row.privateKeyDownloaded ? sql`now()` : sql`null`,
    ],
    sql`, `,
  );
  const keyed = sql`exists (select from ${userSshKeys} where user_id = ${row.userId})`;
  const alongside = (options.alongside ?? []).map(
    (insert, i) =>
      sql`, ${sql.identifier(`alongside_${i}`)} as (${insert(sql`exists (select from inserted)`)})`,
  );
  // Both halves read one snapshot: the key went in only if that snapshot held no key of
  // the user's, so at most one half has rows.
  const existing = options.unlessKeyed
    ? sql` union all (${listKeysStatement(row.userId)}) order by "createdAt", "id"`
    : sql``;
  return sql`with inserted as (
      insert into ${userSshKeys} (id, user_id, key_name, algorithm, source, is_default, public_key,
        fingerprint_sha256, fingerprint_md5, private_key_secret_id, private_key_downloaded_at)
      select ${values}${options.unlessKeyed ? sql` where not ${keyed}` : sql``}
      on conflict (user_id) where is_default do nothing
      returning ${publicSelect})${sql.join(alongside)}
    select * from inserted${existing}`;
}

/** A user's keys, oldest first: `listKeysStatement` run inside a transaction. */
export async function listKeys(tx: Executor, userId: string): Promise<UserSshKey[]> {
  const result = (await tx.execute(listKeysStatement(userId))) as unknown as {
    rows: Record<string, unknown>[];
  };
  return result.rows.map(keyFromRow);
}

/**
 * The statement behind `listKeys`, also sent alone through `Authz.readAsUser`: the public
 * columns under their field names, so `keyFromRow` reads them back on either path.
 */
export function listKeysStatement(userId: string): SQL {
  return sql`select ${publicSelect} from ${userSshKeys} where ${eq(userSshKeys.userId, userId)}
    order by ${userSshKeys.createdAt} asc, ${userSshKeys.id} asc`;
}

// Written out once: drizzle renders each column reference anew in every statement, and
// this list is in every read and every insert of a key (a sixth of a cold deploy's
// JavaScript time).
const publicSelect = sql.raw(
  compile(
    sql.join(
      Object.entries(publicColumns).map(([field, column]) => sql`${column} as ${sql.identifier(field)}`),
      sql`, `,
    ),
  ).text,
);

/** A row of a `publicSelect` statement as the engines return it, typed. */
export function keyFromRow(row: Record<string, unknown>): UserSshKey {
  const doId = row.digitaloceanKeyId;
  return {
    id: row.id as string,
    userId: row.userId as string,
    name: row.name as string,
    algorithm: row.algorithm as string,
    source: row.source as UserSshKey['source'],
    isDefault: row.isDefault as boolean,
    publicKey: row.publicKey as string,
    fingerprintSha256: row.fingerprintSha256 as string,
    fingerprintMd5: row.fingerprintMd5 as string,
    // int8: node-postgres is set to give numbers (engine.ts); PGlite gives bigints.
    digitaloceanKeyId: doId === null || doId === undefined ? null : Number(doId),
    hasPrivateKey: row.hasPrivateKey as boolean,
    privateKeyDownloaded: row.privateKeyDownloaded as boolean,
    createdAt: new Date(row.createdAt as Date | string),
    updatedAt: new Date(row.updatedAt as Date | string),
  };
}

export async function getKey(tx: Executor, userId: string, keyId: string): Promise<UserSshKey | null> {
  const [row] = await tx
    .select(publicColumns)
    .from(userSshKeys)
    .where(and(eq(userSshKeys.userId, userId), eq(userSshKeys.id, keyId)));
  return row ?? null;
}

export async function getKeyByFingerprint(tx: Executor, userId: string, fingerprint: string) {
  const column = fingerprint.startsWith('SHA256:')
    ? userSshKeys.fingerprintSha256
    : userSshKeys.fingerprintMd5;
  const [row] = await tx
    .select(publicColumns)
    .from(userSshKeys)
    .where(and(eq(userSshKeys.userId, userId), eq(column, fingerprint)));
  return row ?? null;
}

export async function getDefaultKey(tx: Executor, userId: string): Promise<UserSshKey | null> {
  const [row] = await tx
    .select(publicColumns)
    .from(userSshKeys)
    .where(and(eq(userSshKeys.userId, userId), eq(userSshKeys.isDefault, true)));
  return row ?? null;
}

/** Deletes a key and returns it; its vault secret goes with it (migration 0007's trigger). */
export async function deleteKey(tx: Executor, userId: string, keyId: string): Promise<UserSshKey | null> {
  const [row] = await tx
    .delete(userSshKeys)
    .where(and(eq(userSshKeys.userId, userId), eq(userSshKeys.id, keyId)))
    .returning(publicColumns);
  return (row as UserSshKey | undefined) ?? null;
}

/**
 * Marks a generated key's private key as downloaded, once. The conditional UPDATE takes
 * the row lock, so of two racing requests exactly one gets the secret id back.
 */
export async function claimPrivateKeyDownload(tx: Executor, userId: string, keyId: string) {
  const [row] = await tx
    .update(userSshKeys)
    .set({ privateKeyDownloadedAt: sql`now()`, updatedAt: sql`now()` })
    .where(
      and(
        eq(userSshKeys.userId, userId),
        eq(userSshKeys.id, keyId),
        isNull(userSshKeys.privateKeyDownloadedAt),
        sql`${userSshKeys.privateKeySecretId} is not null`,
      ),
    )
    .returning({ secretId: userSshKeys.privateKeySecretId });
  return row?.secretId ?? null;
}

/** A key's owner and the id of its vault secret (null for an imported key), or null. */
export async function getPrivateKeySecretId(
  tx: Executor,
  keyId: string,
): Promise<{ userId: string; secretId: string | null } | null> {
  const [row] = await tx
    .select({ userId: userSshKeys.userId, secretId: userSshKeys.privateKeySecretId })
    .from(userSshKeys)
    .where(eq(userSshKeys.id, keyId));
  return row ?? null;
}

export async function setDigitalOceanKeyId(tx: Executor, keyId: string, doKeyId: number | null) {
  await tx.execute(setDigitalOceanKeyIdStatement(keyId, doKeyId));
}

/** The UPDATE behind `setDigitalOceanKeyId`, for a script. */
export function setDigitalOceanKeyIdStatement(keyId: string, doKeyId: number | null): SQL {
  return statementBuilder
    .update(userSshKeys)
    .set({ digitaloceanKeyId: doKeyId, updatedAt: sql`now()` })
    .where(eq(userSshKeys.id, keyId))
    .getSQL();
}
