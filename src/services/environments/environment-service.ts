/**
 * The seed's ensureToolEnvironmentReady, done so that it is exactly-once and crash-safe.
 * The request path only touches the database, as the user (row-level security): it checks
 * the agent is the caller's, returns the live environment if there is one, and otherwise
 * records a new one, if the user has room for one more under their limit of live
 * environments (counted under a per-user lock, in the transaction that records it). The
 * partial unique index decides which of many concurrent callers, on any process, records
 * it; all of them get that one record back. The winner then provisions in the
 * background and the call answers at once.
 */
import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import type { Authz } from '../../db/authz.ts';
import type { Tx } from '../../db/engine.ts';
import { agents } from '../../db/schema.ts';
import { deployTagFor } from '../../digitalocean/client/deploy-tag.ts';
import { NotFoundError } from '../../domain/errors.ts';
import { DEFAULT_USER_LIMITS, requireRoomFor } from '../../domain/limits.ts';
import type { Logger } from '../../observability/logger.ts';
import { writeAudit } from '../../store/audit.ts';
import {
  type EnvironmentRow,
  getLiveEnvironment,
  insertEnvironment,
  transition,
} from '../../store/environments.ts';
import { countLiveEnvironments, lockUserLimits } from '../../store/limits.ts';
import type { EnvironmentService, ToolEnvironment } from '../contracts.ts';
import type { OperationContext } from '../ssh-key-service.ts';
import { BERTH_TAG, type DropletSettings } from './ports.ts';
import { POLL_TAG_PREFIX, type Provisioner } from './provisioner.ts';
import { toView } from './view.ts';

const DELETION_STATES = ['pending_deletion', 'deleting', 'error_deletion'] as const;

export interface EnvironmentServiceDeps {
  authz: Authz;
  provisioner: Pick<Provisioner, 'provision' | 'destroy'>;
  settings: DropletSettings;
  logger: Logger;
  /** Distinguishes this process's polling tags from other processes'. */
  instanceId: string;
  /** This installation's tag (`installationTagFor`), which every droplet it makes carries. */
  installationTag: string;
  /** How many live environments one user may have (0: no limit); the documented default when absent. */
  maxLiveEnvironmentsPerUser?: number;
}

export class ToolEnvironmentService implements EnvironmentService {
  private readonly background = new Set<Promise<void>>();

  private readonly deps: EnvironmentServiceDeps;

  constructor(deps: EnvironmentServiceDeps) {
    this.deps = deps;
  }

  async ensureToolEnvironmentReady(
    agentId: string,
    userId: string,
    ctx: OperationContext = {},
  ): Promise<ToolEnvironment> {
    const { row, created } = await this.deps.authz.withUser(userId, async (tx) => {
      // The user's deploys take turns from here to the commit: the count below and the
      // insert after it are one step, so concurrent deploys cannot all pass the limit.
      // Taken before the agent's live environment is read, so that a second deploy of one
      // agent finds the first's record rather than counting it against the limit.
      await lockUserLimits(tx, userId);
      await this.requireAgent(tx, agentId, userId);
      const live = await getLiveEnvironment(tx, agentId);
      if (live && live.status !== 'error_creation') return { row: live, created: false };
      if (live) {
        // A failed deploy is deployed again on the same record, under a new deploy tag.
        const again = await transition(tx, live.id, ['error_creation'], 'pending_creation', {
          ...this.tagsFor(agentId, userId),
          errorMessage: null,
          dropletId: null,
        });
        return { row: again ?? live, created: again !== null };
      }
      requireRoomFor(
        'live_environments_per_user',
        this.deps.maxLiveEnvironmentsPerUser ?? DEFAULT_USER_LIMITS.liveEnvironmentsPerUser,
        await countLiveEnvironments(tx, userId),
      );
      const id = randomUUID();
      const inserted = await insertEnvironment(tx, {
        id,
        agentId,
        userId,
        name: dropletName(agentId, id),
        region: this.deps.settings.region,
        size: this.deps.settings.size,
        image: this.deps.settings.image,
        ...this.tagsFor(agentId, userId),
      });
      if (inserted) {
        await writeAudit(tx, {
          userId,
          actor: ctx.actor ?? `user:${userId}`,
          operation: 'deploy.requested',
          outcome: 'success',
          agentId,
          requestId: ctx.requestId ?? null,
        });
        return { row: inserted, created: true };
      }
      // Another caller recorded it first (the unique index made us wait for its commit).
      const winner = await getLiveEnvironment(tx, agentId);
      if (!winner) throw new Error('a live environment vanished while deploying');
      return { row: winner, created: false };
    });
    if (created) this.inBackground(ctx, () => this.deps.provisioner.provision(row.id, ctx));
    return toView(row, this.deps.settings.sshUser);
  }

  async getToolEnvironment(agentId: string, userId: string): Promise<ToolEnvironment | null> {
    return this.deps.authz.withUser(userId, async (tx) => {
      await this.requireAgent(tx, agentId, userId);
      const live = await getLiveEnvironment(tx, agentId);
      return live ? toView(live, this.deps.settings.sshUser) : null;
    });
  }

  async teardownToolEnvironment(
    agentId: string,
    userId: string,
    ctx: OperationContext = {},
  ): Promise<ToolEnvironment> {
    const row = await this.deps.authz.withUser(userId, async (tx) => {
      await this.requireAgent(tx, agentId, userId);
      const live = await getLiveEnvironment(tx, agentId);
      if (!live) throw new NotFoundError('Tool environment');
      if ((DELETION_STATES as readonly string[]).includes(live.status) && live.status !== 'error_deletion')
        return live;
      const moved = await transition(
        tx,
        live.id,
        ['pending_creation', 'creating', 'active', 'error_creation', 'unresponsive', 'error_deletion'],
        'pending_deletion',
      );
      await writeAudit(tx, {
        userId,
        actor: ctx.actor ?? `user:${userId}`,
        operation: 'teardown.requested',
        outcome: 'success',
        agentId,
        requestId: ctx.requestId ?? null,
      });
      return moved ?? live;
    });
    if (row.status === 'pending_deletion')
      this.inBackground(ctx, () => this.deps.provisioner.destroy(row.id, ctx));
    return toView(row, this.deps.settings.sshUser);
  }

  /** Resolves when the background work started so far has finished (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
  }

  /** Work that outlives the request; its lines carry the id of the request that started it. */
  private inBackground(ctx: OperationContext, work: () => Promise<void>) {
    const running = work()
      .catch((error) =>
        this.deps.logger.error(
          { err: error, requestId: ctx.requestId },
          'background environment work failed',
        ),
      )
      .finally(() => this.background.delete(running));
    this.background.add(running);
  }

  private async requireAgent(tx: Tx, agentId: string, userId: string) {
    const [agent] = await tx
      .select({ id: agents.id })
      .from(agents)
      .where(and(eq(agents.id, agentId), eq(agents.userId, userId)));
    if (!agent) throw new NotFoundError('Agent');
  }

  private tagsFor(agentId: string, userId: string): Pick<EnvironmentRow, 'tags' | 'deployTag'> {
    const deployTag = deployTagFor(randomUUID());
    // The polling tag groups the deploys of one process in one ten-minute window, so the
    // follower lists them with one call however many there are.
    const window = Math.floor(Date.now() / 600_000);
    const pollTag = `${POLL_TAG_PREFIX}${this.deps.instanceId}-${window}`;
    return {
      deployTag,
      tags: [deployTag, BERTH_TAG, this.deps.installationTag, `agent:${agentId}`, `user:${userId}`, pollTag],
    };
  }
}

/** Droplet names allow letters, digits, dots and dashes; this one names the agent. */
function dropletName(agentId: string, envId: string): string {
  return `berth-agent-${agentId.slice(0, 8)}-${envId.slice(0, 8)}`;
}
