/**
 * Supabase's `auth.users`, as berth sees it. It lives apart from `schema.ts` because
 * berth does not own this table: on a Supabase project it already exists, and berth's
 * hand-written compatibility migration creates a minimal one only where it is absent.
 * drizzle-kit reads `schema.ts` alone, so it never tries to create or alter it.
 */
import { jsonb, pgSchema, text, timestamp, uuid } from 'drizzle-orm/pg-core';

export const authSchema = pgSchema('auth');

export const authUsers = authSchema.table('users', {
  id: uuid('id').primaryKey(),
  email: text('email'),
  encryptedPassword: text('encrypted_password'),
  rawUserMetaData: jsonb('raw_user_meta_data'),
  createdAt: timestamp('created_at', { withTimezone: true }),
  updatedAt: timestamp('updated_at', { withTimezone: true }),
});
