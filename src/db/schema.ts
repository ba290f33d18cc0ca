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
  integer,
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

/** The states an environment moves through, as the seed's platform named them. */
export const ENVIRONMENT_STATES = [
  'pending_creation',
  'creating',
  'active',
  'error_creation',
  'pending_deletion',
  'deleting',
  'deleted',
  'error_deletion',
  'unresponsive',
] as const;
export type EnvironmentState = (typeof ENVIRONMENT_STATES)[number];

/**
 * An agent's tool environment (a droplet). At most one row per agent is live (anything
 * but `deleted`): the partial unique index enforces it, so concurrent deploys of one
 * agent, on any number of processes, converge on one record. `deploy_tag` is the unique
 * tag given to the droplet create, which lets berth find a droplet whose create
 * succeeded but was never recorded.
 */
export const agentDroplets = pgTable(
  'agent_droplets',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    agentId: uuid('agent_id')
      .notNull()
      .references(() => agents.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => authUsers.id, { onDelete: 'cascade' }),
    status: text('status', { enum: ENVIRONMENT_STATES }).notNull().default('pending_creation'),
    dropletId: bigint('droplet_id', { mode: 'number' }),
    name: text('name').notNull(),
    ipAddress: text('ip_address'),
    sshPort: integer('ssh_port'),
    region: text('region').notNull(),
    size: text('size').notNull(),
    image: text('image').notNull(),
    tags: text('tags').array().notNull().default(sql`'{}'::text[]`),
    deployTag: text('deploy_tag').notNull(),
    sshKeyFingerprints: text('ssh_key_fingerprints').array().notNull().default(sql`'{}'::text[]`),
    usedFallbackKeys: boolean('used_fallback_keys').notNull().default(false),
    /**
     * How logins to the droplet are decided: `live` (sshd asks berth at each login, with
     * the droplet's credential) or `fixed` (the create-time keys only: droplets made
     * before berth installed its login check, or without a droplet API configured).
     */
    loginAccess: text('login_access', { enum: ['live', 'fixed'] })
      .notNull()
      .default('fixed'),
    errorMessage: text('error_message'),
    attempts: integer('attempts').notNull().default(0),
    ...timestamps,
    activeAt: timestamp('active_at', { withTimezone: true }),
    deletedAt: timestamp('deleted_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('agent_droplets_one_live_uq').on(t.agentId).where(sql`${t.status} <> 'deleted'`),
    uniqueIndex('agent_droplets_deploy_tag_uq').on(t.deployTag),
    index('agent_droplets_user_idx').on(t.userId),
    index('agent_droplets_status_idx').on(t.status),
    check(
      'agent_droplets_status_ck',
      sql.raw(`status in (${ENVIRONMENT_STATES.map((s) => `'${s}'`).join(', ')})`),
    ),
  ],
);

export const ONBOARDING_STATES = ['pending', 'generating', 'registering', 'ready', 'failed'] as const;
export type OnboardingState = (typeof ONBOARDING_STATES)[number];

/** Per-user onboarding progress: the default key generated, then registered on DigitalOcean. */
export const userOnboarding = pgTable(
  'user_onboarding',
  {
    userId: uuid('user_id')
      .primaryKey()
      .references(() => authUsers.id, { onDelete: 'cascade' }),
    status: text('status', { enum: ONBOARDING_STATES }).notNull().default('pending'),
    error: text('error'),
    attempts: integer('attempts').notNull().default(0),
    ...timestamps,
  },
  () => [
    check(
      'user_onboarding_status_ck',
      sql.raw(`status in (${ONBOARDING_STATES.map((s) => `'${s}'`).join(', ')})`),
    ),
  ],
);

/**
 * DigitalOcean calls made, per token (by hash, never the token), for the rate budget
 * that every berth process on this database shares: a sliding hour and minute are
 * counts over this table. Rows older than an hour are pruned as berth goes.
 */
export const doApiCalls = pgTable(
  'do_api_calls',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    tokenId: text('token_id').notNull(),
    priority: text('priority', { enum: ['deploy', 'background', 'onboarding'] }).notNull(),
    at: timestamp('at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [index('do_api_calls_token_at_idx').on(t.tokenId, t.at)],
);

/**
 * Which berth installation this database is: one row, made by migration 0010. Every
 * droplet berth creates carries its id as a tag (`berth-install:<id>`), and the reconciler
 * looks only at droplets with that tag, so two installations with their own databases on
 * one DigitalOcean account leave each other's droplets alone. All processes on one
 * database are one installation; a copy of the database (a restored backup) is the same
 * installation too, which docs/operations.md warns about.
 */
export const berthInstallation = pgTable(
  'berth_installation',
  {
    singleton: boolean('singleton').primaryKey().default(true),
    id: uuid('id').notNull().defaultRandom(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [check('berth_installation_singleton_ck', sql`${t.singleton}`)],
);

/**
 * Refresh tokens of berth's embedded sign-in (used only when no external identity
 * provider is configured). Only a hash is stored; a token is used once and replaced.
 */
export const authRefreshTokens = pgTable(
  'auth_refresh_tokens',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id')
      .notNull()
      .references(() => authUsers.id, { onDelete: 'cascade' }),
    sessionId: uuid('session_id').notNull(),
    tokenHash: text('token_hash').notNull(),
    revoked: boolean('revoked').notNull().default(false),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    uniqueIndex('auth_refresh_tokens_hash_uq').on(t.tokenHash),
    index('auth_refresh_tokens_session_idx').on(t.sessionId),
  ],
);

/**
 * Each droplet's credential for the droplet-facing API: a random secret made at deploy,
 * handed to the droplet in its user_data, and stored here only as its SHA-256 (the
 * secret has 256 bits of entropy, so a slow hash would add nothing). It lets the droplet
 * read its own environment's login keys and nothing else; `revoked_at` is set when the
 * environment's teardown starts. One row per environment: a retried create replaces it.
 */
export const dropletCredentials = pgTable(
  'droplet_credentials',
  {
    environmentId: uuid('environment_id')
      .primaryKey()
      .references(() => agentDroplets.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => authUsers.id, { onDelete: 'cascade' }),
    secretHash: text('secret_hash').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
  },
  (t) => [uniqueIndex('droplet_credentials_secret_hash_uq').on(t.secretHash)],
);
