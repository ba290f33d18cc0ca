/**
 * The reconciler: makes DigitalOcean and berth's records agree after anything — a crash
 * mid-deploy, a lost response, a teardown that failed. It lists every berth droplet (by
 * the `berth` tag) and matches each to its record by its deploy tag: a droplet whose
 * record is live but lacks it is adopted; one that belongs to no live record is
 * destroyed; a recorded droplet that vanished marks its record `unresponsive`. Records
 * whose background work was abandoned (their process died) are taken up again.
 */
import { inArray } from 'drizzle-orm';
import type { Authz } from '../../db/authz.ts';
import { agentDroplets, type EnvironmentState } from '../../db/schema.ts';
import { DEPLOY_TAG_PREFIX } from '../../digitalocean/client/deploy-tag.ts';
import type { Logger } from '../../observability/logger.ts';
import { type AuditEntry, writeAudit } from '../../store/audit.ts';
import { type EnvironmentRow, transition } from '../../store/environments.ts';
import type { DropletFollower } from './follower.ts';
import { BERTH_TAG, type DropletApi, publicIpv4 } from './ports.ts';
import type { Provisioner } from './provisioner.ts';
import { pollTagOf } from './provisioner.ts';

export interface ReconcileReport {
  droplets: number;
  adopted: number;
  destroyed: number;
  unresponsive: number;
  resumed: number;
}

export interface ReconcilerDeps {
  authz: Authz;
  droplets: Pick<DropletApi, 'listDropletsByTag' | 'deleteDroplet'>;
  provisioner: Pick<Provisioner, 'provision' | 'destroy'>;
  follower: Pick<DropletFollower, 'follow'>;
  sshPort: number;
  logger: Logger;
  /** Records untouched for this long have lost their process and are taken up again. */
  leaseMs?: number;
}

const LIVE: EnvironmentState[] = ['pending_creation', 'creating', 'active', 'error_creation', 'unresponsive'];
const DELETING: EnvironmentState[] = ['pending_deletion', 'deleting', 'error_deletion'];

export class Reconciler {
  constructor(private readonly deps: ReconcilerDeps) {}

  async reconcile(onProgress?: (done: number, total: number) => void): Promise<ReconcileReport> {
    const { authz, droplets, logger } = this.deps;
    const leaseMs = this.deps.leaseMs ?? 120_000;
    const report: ReconcileReport = { droplets: 0, adopted: 0, destroyed: 0, unresponsive: 0, resumed: 0 };
    // Records are read after the droplets: a record always exists before its droplet, so
    // no droplet in the list can belong to a record this read misses.
    const found = await droplets.listDropletsByTag(BERTH_TAG, { priority: 'background' });
    report.droplets = found.length;
    const rows = await authz.asService('reconcile: read records', (tx) =>
      tx
        .select()
        .from(agentDroplets)
        .where(inArray(agentDroplets.status, [...LIVE, ...DELETING])),
    );
    const deployTags = found.flatMap((d) => d.tags?.filter((t) => t.startsWith(DEPLOY_TAG_PREFIX)) ?? []);
    const byTag = new Map(rows.map((r) => [r.deployTag, r]));
    const seen = new Set<number>();
    const total = found.length + rows.length;
    let done = 0;
    // Oldest first, so of two droplets with one deploy tag the first is kept.
    for (const droplet of [...found].sort((a, b) => a.id - b.id)) {
      onProgress?.(++done, total);
      const tag = droplet.tags?.find((t) => t.startsWith(DEPLOY_TAG_PREFIX));
      const row = tag ? byTag.get(tag) : undefined;
      const keep =
        row && LIVE.includes(row.status) && (row.dropletId === null || row.dropletId === droplet.id);
      if (!keep || (row.dropletId === null && seen.has(droplet.id))) {
        if (row && DELETING.includes(row.status)) continue; // teardown owns it
        await droplets.deleteDroplet(droplet.id, { priority: 'background' });
        report.destroyed++;
        await this.audit(row ?? null, 'reconcile.destroyed', { dropletId: droplet.id });
        continue;
      }
      seen.add(droplet.id);
      if (row.dropletId === null || row.status === 'error_creation' || row.status === 'pending_creation') {
        const active = droplet.status === 'active';
        const adopted = await authz.asService('reconcile: adopt droplet', (tx) =>
          transition(
            tx,
            row.id,
            ['pending_creation', 'creating', 'error_creation'],
            active ? 'active' : 'creating',
            {
              dropletId: droplet.id,
              ...(active
                ? { ipAddress: publicIpv4(droplet), sshPort: this.deps.sshPort, activeAt: new Date() }
                : {}),
              errorMessage: null,
            },
          ),
        );
        if (adopted) {
          report.adopted++;
          row.dropletId = droplet.id;
          await this.audit(row, 'reconcile.adopted', { dropletId: droplet.id });
          if (!active)
            this.deps.follower.follow({ envId: row.id, dropletId: droplet.id, pollTag: pollTagOf(row) });
        }
      } else if (row.status === 'creating') {
        this.deps.follower.follow({ envId: row.id, dropletId: droplet.id, pollTag: pollTagOf(row) });
      }
    }
    const now = Date.now();
    for (const row of rows) {
      onProgress?.(++done, total);
      const stale = now - row.updatedAt.getTime() > leaseMs;
      const present = row.dropletId !== null && found.some((d) => d.id === row.dropletId);
      if (row.dropletId !== null && !present && ['active', 'creating'].includes(row.status) && stale) {
        await authz.asService('reconcile: droplet vanished', (tx) =>
          transition(tx, row.id, ['active', 'creating'], 'unresponsive', {
            errorMessage: 'The droplet no longer exists on DigitalOcean.',
          }),
        );
        report.unresponsive++;
        await this.audit(row, 'reconcile.unresponsive', { dropletId: row.dropletId });
      } else if (row.dropletId === null && stale && !deployTags.includes(row.deployTag)) {
        if (row.status === 'creating' || row.status === 'pending_creation') {
          // Its process died before or during the create, and no droplet came of it.
          await authz.asService('reconcile: resume deploy', (tx) =>
            transition(tx, row.id, ['creating', 'pending_creation'], 'pending_creation'),
          );
          report.resumed++;
          await this.audit(row, 'reconcile.resumed', {});
          await this.deps.provisioner.provision(row.id, { actor: 'service:reconciler' });
        }
      }
      if (DELETING.includes(row.status) && row.status !== 'error_deletion' && stale) {
        if (row.status === 'deleting') {
          await authz.asService('reconcile: resume teardown', (tx) =>
            transition(tx, row.id, ['deleting'], 'pending_deletion'),
          );
        }
        report.resumed++;
        await this.deps.provisioner.destroy(row.id, { actor: 'service:reconciler' });
      }
    }
    logger.info({ ...report }, 'reconciled environments with DigitalOcean');
    return report;
  }

  private audit(
    row: EnvironmentRow | null,
    operation: AuditEntry['operation'],
    details: AuditEntry['details'],
  ) {
    return this.deps.authz
      .asService(`audit ${operation}`, (tx) =>
        writeAudit(tx, {
          userId: row?.userId ?? null,
          actor: 'service:reconciler',
          operation,
          outcome: 'success',
          agentId: row?.agentId ?? null,
          details,
        }),
      )
      .catch((error) => this.deps.logger.error({ err: error }, 'could not write an audit row'));
  }
}
