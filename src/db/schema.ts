/**
 * berth's tables, one module shared by both engines (PGlite and PostgreSQL through
 * node-postgres). drizzle-kit generates the table migrations from this file; what it
 * cannot model (roles, row-level security policies, grants, SQL functions, the
 * append-only trigger) lives in hand-written migrations beside the generated ones.
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  customType,
  index,
  jsonb,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { authUsers } from './auth-schema.ts';

const bytea = customType<{ data: Buffer; driverData: Buffer | Uint8Array }>({
  dataType: () => 'bytea',
  fromDriver: (value) => (Buffer.isBuffer(value) ? value : Buffer.from(value)),
});

const timestamps = {
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
};

/**
 * The vault: one row per secret, envelope-encrypted. `key_id` names the master key that
 * wrapped this row's data key, so rotation can re-wrap row by row and a missing master
 * key is detected at start.
 */
export const vaultSecrets = pgTable(
  'vault_secrets',
  {
    id: uuid('id').primaryKey(),
    ownerId: uuid('owner_id'),
    name: text('name').notNull(),
    keyId: text('key_id').notNull(),
    wrappedKey: bytea('wrapped_key').notNull(),
    nonce: bytea('nonce').notNull(),
    ciphertext: bytea('ciphertext').notNull(),
    ...timestamps,
  },
  (t) => [index('vault_secrets_key_id_idx').on(t.keyId), index('vault_secrets_owner_idx').on(t.ownerId)],
);

export const userSshKeys = pgTable(
  'user_ssh_keys',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id')
      .notNull()
      .references(() => authUsers.id, { onDelete: 'cascade' }),
    keyName: text('key_name').notNull().default('default'),
    algorithm: text('algorithm').notNull(),
    source: text('source', { enum: ['generated', 'imported'] }).notNull(),
    isDefault: boolean('is_default').notNull().default(false),
    publicKey: text('public_key').notNull(),
    fingerprintSha256: text('fingerprint_sha256').notNull(),
    fingerprintMd5: text('fingerprint_md5').notNull(),
    digitaloceanKeyId: bigint('digitalocean_key_id', { mode: 'number' }),
    privateKeySecretId: uuid('private_key_secret_id').references(() => vaultSecrets.id, {
      onDelete: 'restrict',
    }),
    privateKeyDownloadedAt: timestamp('private_key_downloaded_at', { withTimezone: true }),
    ...timestamps,
  },
  (t) => [
    index('user_ssh_keys_user_idx').on(t.userId),
    uniqueIndex('user_ssh_keys_user_fingerprint_uq').on(t.userId, t.fingerprintSha256),
    // A user has at most one default key: this index is what makes concurrent
    // "ensure the user has a key" calls create it exactly once.
    uniqueIndex('user_ssh_keys_one_default_uq').on(t.userId).where(sql`${t.isDefault}`),
    check('user_ssh_keys_source_ck', sql`${t.source} in ('generated', 'imported')`),
    check('user_ssh_keys_secret_ck', sql`(${t.source} = 'imported') = (${t.privateKeySecretId} is null)`),
  ],
);

export const agents = pgTable(
  'agents',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id')
      .notNull()
      .references(() => authUsers.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    ...timestamps,
  },
  (t) => [index('agents_user_idx').on(t.userId)],
);

/**
 * Append-only: the application's roles may INSERT and SELECT, never UPDATE or DELETE
 * (grants plus a trigger). `ssh_key_id` has no foreign key on purpose, so the trail of
 * a deleted key survives it. Rows never hold key material.
 */
export const sshKeyAuditLog = pgTable(
  'ssh_key_audit_log',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id'),
    actor: text('actor').notNull(),
    operation: text('operation').notNull(),
    outcome: text('outcome', { enum: ['success', 'failure'] }).notNull(),
    sshKeyId: uuid('ssh_key_id'),
    agentId: uuid('agent_id'),
    digitaloceanKeyId: bigint('digitalocean_key_id', { mode: 'number' }),
    requestId: text('request_id'),
    details: jsonb('details').$type<Record<string, unknown>>(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('ssh_key_audit_log_user_idx').on(t.userId, t.createdAt)],
);
