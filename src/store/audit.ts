/**
 * The SSH key audit trail. Every key operation, successful or not, leaves a row: who
 * acted, what they did, on which key, with what outcome, under which request. Rows
 * never carry key material: `details` takes only the small, whitelisted facts below.
 *
 * An operation here is one that changes a key or reveals a private key. Reading the
 * public metadata of one's own keys (the list the UI shows on every page) is not one:
 * a row per page view would double the cost of berth's most frequent request and bury
 * the rows an investigation needs (docs/decisions.md, "What the audit trail records").
 */
import { desc, eq, type SQL, sql } from 'drizzle-orm';
import type { Executor } from '../db/engine.ts';
import { sshKeyAuditLog } from '../db/schema.ts';

export type AuditOperation =
  | 'key.generated'
  | 'key.imported'
  | 'key.default_created'
  | 'key.deleted'
  | 'key.private_key_downloaded'
  | 'key.private_key_read'
  | 'key.registered'
  | 'deploy.requested'
  | 'deploy.created'
  | 'deploy.failed'
  | 'deploy.active'
  | 'deploy.fallback_keys'
  | 'teardown.requested'
  | 'teardown.done'
  | 'teardown.failed'
  | 'reconcile.adopted'
  | 'reconcile.destroyed'
  | 'reconcile.unresponsive'
  | 'reconcile.resumed'
  | 'droplet.credential_refused';

export interface AuditEntry {
  userId: string | null;
  actor: string;
  operation: AuditOperation;
  outcome: 'success' | 'failure';
  sshKeyId?: string | null;
  agentId?: string | null;
  digitaloceanKeyId?: number | null;
  requestId?: string | null;
  details?: {
    algorithm?: string;
    source?: string;
    fingerprintSha256?: string;
    reason?: string;
    errorCode?: string;
    dropletId?: number;
    digitaloceanKeyIds?: (number | string)[];
    usedFallbackKeys?: boolean;
    /** Where a refused droplet credential came from. */
    sourceAddress?: string;
  };
}

export async function writeAudit(tx: Executor, entry: AuditEntry): Promise<void> {
  await tx.execute(auditStatement(entry));
}

/**
 * The INSERT that writes `entry`, for a transaction or a script. With `when`, the row is
 * written only if that condition holds when the statement runs (a script's audit row
 * for a change an earlier statement may not have made).
 */
export function auditStatement(entry: AuditEntry, when?: SQL): SQL {
  const values = sql.join(
    [
      entry.userId,
      entry.actor,
      entry.operation,
      entry.outcome,
      entry.sshKeyId ?? null,
      entry.agentId ?? null,
      entry.digitaloceanKeyId ?? null,
      entry.requestId ?? null,
    ].map((value) => sql`${value}`),
    sql`, `,
  );
  const details = entry.details ? sql`${JSON.stringify(entry.details)}::jsonb` : sql`null`;
  return sql`insert into ${sshKeyAuditLog} (user_id, actor, operation, outcome, ssh_key_id, agent_id,
    digitalocean_key_id, request_id, details) select ${values}, ${details}${when ? sql` where ${when}` : sql``}`;
}

export async function listAudit(tx: Executor, userId: string, limit = 100) {
  return tx
    .select()
    .from(sshKeyAuditLog)
    .where(eq(sshKeyAuditLog.userId, userId))
    .orderBy(desc(sshKeyAuditLog.createdAt))
    .limit(limit);
}
