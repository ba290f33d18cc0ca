/**
 * The reconciler: makes DigitalOcean and berth's records agree after anything — a crash
 * mid-deploy, a lost response, a teardown that failed. It lists this installation's
 * droplets (by its `berth-install:<id>` tag) and matches each to its record by its deploy
 * tag: a droplet whose record is live but lacks it is adopted; one that belongs to no live
 * record is destroyed; a recorded droplet that vanished marks its record `unresponsive`.
 * Records whose background work was abandoned (their process died) are taken up again.
 *
 * Another installation's droplets (on the same DigitalOcean account) are never listed,
 * let alone destroyed. Droplets made before installations had ids carry no installation
 * tag: while any live record is that old, the generic `berth` tag is listed too, and such
 * a droplet is kept, adopted or (as a second droplet of one record) destroyed only when
 * its deploy tag is one of this installation's records; any other is left alone, since
 * it may be another installation's.
 */
import { and, inArray, not, sql } from 'drizzle-orm';
import type { Authz } from '../../db/authz.ts';
import { agentDroplets, type EnvironmentState } from '../../db/schema.ts';
import { DEPLOY_TAG_PREFIX } from '../../digitalocean/client/deploy-tag.ts';
import type { Logger } from '../../observability/logger.ts';
import { type AuditEntry, writeAudit } from '../../store/audit.ts';
import { type EnvironmentRow, transition } from '../../store/environments.ts';
import type { DropletFollower } from './follower.ts';
import { BERTH_TAG, type DropletApi, ownerOf, publicIpv4 } from './ports.ts';
import type { Provisioner } from './provisioner.ts';
import { pollTagOf } from './provisioner.ts';

export interface ReconcileReport {
  droplets: number;
  adopted: number;
  destroyed: number;
  unresponsive: number;
  resumed: number;
  /** Droplets from before installation ids that no live record of this installation claims. */
  leftAlone: number;
}

export interface ReconcilerDeps {
  authz: Authz;
  droplets: Pick<DropletApi, 'listDropletsByTag' | 'deleteDroplet'>;
  provisioner: Pick<Provisioner, 'provision' | 'destroy'>;
  follower: Pick<DropletFollower, 'follow'>;
  sshPort: number;
  logger: Logger;
  /** This installation's tag (`installationTagFor`): the droplets it may touch carry it. */
  installationTag: string;
  /** Records untouched for this long have lost their process and are taken up again. */
  leaseMs?: number;
}

const LIVE: EnvironmentState[] = ['pending_creation', 'creating', 'active', 'error_creation', 'unresponsive'];
const DELETING: EnvironmentState[] = ['pending_deletion', 'deleting', 'error_deletion'];

export class Reconciler {
  private readonly deps: ReconcilerDeps;

  constructor(deps: ReconcilerDeps) {
    this.deps = deps;
  }

  async reconcile(onProgress?: (done: number, total: number) => void): Promise<ReconcileReport> {
    const { authz, droplets, logger, installationTag } = this.deps;
    const leaseMs = this.deps.leaseMs ?? 120_000;
    const report: ReconcileReport = {
      droplets: 0,
      adopted: 0,
      destroyed: 0,
      unresponsive: 0,
      resumed: 0,
      leftAlone: 0,
    };
    const { found, legacyListed } = await this.listDroplets();
    report.droplets = found.length;
    // Records are read after the droplets: a record always exists before its droplet, so
    // no droplet in the list can belong to a record this read misses.
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
        if (!row && ownerOf(droplet, installationTag) === 'legacy') {
          // Older than installation ids and claimed by no record here: maybe another's.
          report.leftAlone++;
          logger.warn(
            { dropletId: droplet.id, tags: droplet.tags },
            'left alone a berth droplet from before installation ids that no live record claims',
          );
          continue;
        }
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
      // A record from before installation ids that appeared after the look for them (an
      // older process still creating) may have a droplet these lists could not show.
      const stale =
        now - row.updatedAt.getTime() > leaseMs && (legacyListed || row.tags.includes(installationTag));
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

  /**
   * This installation's droplets, and, while a live record from before installation ids
   * may have one without the installation's tag, the droplets with no installation tag.
   */
  private async listDroplets() {
    const { authz, droplets, installationTag } = this.deps;
    const own = await droplets.listDropletsByTag(installationTag, { priority: 'background' });
    const [legacyRecord] = await authz.asService(
      'reconcile: look for records from before installation ids',
      (tx) =>
        tx
          .select({ id: agentDroplets.id })
          .from(agentDroplets)
          .where(
            and(
              inArray(agentDroplets.status, [...LIVE, ...DELETING]),
              not(sql`${installationTag} = any(${agentDroplets.tags})`),
            ),
          )
          .limit(1),
    );
    if (!legacyRecord) return { found: own, legacyListed: false };
    const all = await droplets.listDropletsByTag(BERTH_TAG, { priority: 'background' });
    return {
      found: [...own, ...all.filter((d) => ownerOf(d, installationTag) === 'legacy')],
      legacyListed: true,
    };
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
