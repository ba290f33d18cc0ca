/**
 * The instruments of the deploy overhead benchmark (deploy.ts): wrappers around the
 * environment services' dependencies (the keys port, the database authorisation, the
 * droplet API) that time the parts of one deploy where SSH key integration differs from
 * static keys, and a runner for one deploy that waits for its background work, so each
 * deploy is timed alone.
 */
import type { Authz } from '../src/db/authz.ts';
import type { DropletApi } from '../src/services/environments/ports.ts';
import type { DeployPath, KeysPort } from './stack.ts';

export interface Timing {
  keyStep: number;
  startCreate: number;
  /** Start-create transactions run: 2 when the keys changed under the deploy and it retried. */
  starts: number;
  createAt?: number;
  answeredAt?: number;
}

export interface Sample {
  /** The two segments that differ between key and static deploys, summed. */
  added: number;
  keyStep: number;
  startCreate: number;
  starts: number;
  /** ensureToolEnvironmentReady called → droplet create answered. */
  whole: number;
}

/** Nearest-rank percentile. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/** Where the instrumented dependencies report the timings of the one deploy in flight. */
export class Probe {
  current: Timing | null = null;

  keys(inner: KeysPort): KeysPort {
    return {
      prepareForDeployment: async (userId, ctx) => {
        const start = performance.now();
        try {
          return await inner.prepareForDeployment(userId, ctx);
        } finally {
          if (this.current) this.current.keyStep += performance.now() - start;
        }
      },
      invalidateSSHKeyCache: (userId) => inner.invalidateSSHKeyCache(userId),
    };
  }

  authz(inner: Authz): Authz {
    return {
      withUser: (userId, fn) => inner.withUser(userId, fn),
      readAsUser: (userId, statement, map) => inner.readAsUser(userId, statement, map),
      // Only the statements inside the transaction are timed: BEGIN, the role switch and
      // COMMIT are the same three round trips for both kinds of deploy, and timing them
      // would only add their noise to both sides of the difference.
      asService: (reason, fn) => {
        if (reason !== 'provision: start create') return inner.asService(reason, fn);
        return inner.asService(reason, async (tx) => {
          const start = performance.now();
          try {
            return await fn(tx);
          } finally {
            if (this.current) {
              this.current.startCreate += performance.now() - start;
              this.current.starts++;
            }
          }
        });
      },
    };
  }

  droplets(inner: DropletApi): DropletApi {
    return {
      createDroplet: async (request, options) => {
        if (this.current) this.current.createAt ??= performance.now();
        const result = await inner.createDroplet(request, options);
        if (this.current) this.current.answeredAt = performance.now();
        return result;
      },
      listDropletsByTag: (tag, options) => inner.listDropletsByTag(tag, options),
      deleteDroplet: (id, options) => inner.deleteDroplet(id, options),
      deleteDropletsByTag: (tag, options) => inner.deleteDropletsByTag(tag, options),
    };
  }
}

export async function deployOnce(
  path: DeployPath,
  probe: Probe,
  agentId: string,
  userId: string,
): Promise<Sample> {
  const timing: Timing = { keyStep: 0, startCreate: 0, starts: 0 };
  probe.current = timing;
  const start = performance.now();
  await path.service.ensureToolEnvironmentReady(agentId, userId);
  await path.service.settled();
  probe.current = null;
  if (timing.answeredAt === undefined) {
    const env = await path.service.getToolEnvironment(agentId, userId);
    throw new Error(
      `a benchmark deploy failed (${env?.status}): ${env?.errorMessage ?? 'no create was sent'}`,
    );
  }
  return {
    added: timing.keyStep + timing.startCreate,
    keyStep: timing.keyStep,
    startCreate: timing.startCreate,
    starts: timing.starts,
    whole: timing.answeredAt - start,
  };
}
