/**
 * The instruments of the deploy overhead benchmark (deploy.ts): wrappers around the
 * environment services' dependencies (the keys port, the database authorisation, the
 * droplet API) that time the parts of one deploy where SSH key integration differs from
 * static keys, and a runner for one deploy that waits for its background work, so each
 * deploy is timed alone. Inside the key step, the key services' database calls and
 * DigitalOcean's HTTP are timed as its parts, to say where a cold step's time goes.
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
  /** Time inside the key step by part: database calls by kind or reason, HTTP. */
  parts: Record<string, number>;
}

export interface Sample {
  /** The two segments that differ between key and static deploys, summed. */
  added: number;
  keyStep: number;
  startCreate: number;
  starts: number;
  /** ensureToolEnvironmentReady called → droplet create answered. */
  whole: number;
  parts: Record<string, number>;
}

/** Nearest-rank percentile. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/** Where the instrumented dependencies report the timings of the one deploy in flight. */
export class Probe {
  current: Timing | null = null;
  private inKeyStep = false;

  keys(inner: KeysPort): KeysPort {
    return {
      prepareForDeployment: async (userId, ctx) => {
        const start = performance.now();
        this.inKeyStep = true;
        try {
          return await inner.prepareForDeployment(userId, ctx);
        } finally {
          this.inKeyStep = false;
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
      queryAsService: (reason, statement, map) => inner.queryAsService(reason, statement, map),
      scriptAsUser: (userId, statements) => inner.scriptAsUser(userId, statements),
      scriptAsService: (reason, statements) => inner.scriptAsService(reason, statements),
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

  /** Counts `ms` towards `name` when it was spent inside the current deploy's key step. */
  part(name: string, ms: number): void {
    if (this.inKeyStep && this.current) this.current.parts[name] = (this.current.parts[name] ?? 0) + ms;
  }

  /** The key services' database access, each call timed as a part of the key step. */
  keyServicesAuthz(inner: Authz): Authz {
    const timed = async <T>(name: string, run: () => Promise<T>) => {
      const start = performance.now();
      try {
        return await run();
      } finally {
        this.part(name, performance.now() - start);
      }
    };
    return {
      withUser: (userId, fn) => timed('withUser transactions', () => inner.withUser(userId, fn)),
      readAsUser: (userId, statement, map) =>
        timed('readAsUser reads', () => inner.readAsUser(userId, statement, map)),
      asService: (reason, fn) => timed(reason, () => inner.asService(reason, fn)),
      queryAsService: (reason, statement, map) =>
        timed(reason, () => inner.queryAsService(reason, statement, map)),
      scriptAsUser: (userId, statements) =>
        timed('scriptAsUser scripts', () => inner.scriptAsUser(userId, statements)),
      scriptAsService: (reason, statements) => timed(reason, () => inner.scriptAsService(reason, statements)),
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
    };
  }
}

export async function deployOnce(
  path: DeployPath,
  probe: Probe,
  agentId: string,
  userId: string,
): Promise<Sample> {
  const timing: Timing = { keyStep: 0, startCreate: 0, starts: 0, parts: {} };
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
    parts: timing.parts,
  };
}

/** Each part's p50 and mean over the samples (0 where a sample had none), and the rest. */
export function partsSummary(samples: Sample[]): string {
  const names = [...new Set(samples.flatMap((x) => Object.keys(x.parts)))];
  const rows = names.map((name) => [name, samples.map((x) => x.parts[name] ?? 0)] as const);
  const rest = samples.map((x) => x.keyStep - Object.values(x.parts).reduce((a, b) => a + b, 0));
  const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return [...rows, ['rest (key generation, encryption, JavaScript)', rest] as const]
    .map(([name, xs]) => `\n    ${name}: ${percentile([...xs], 50).toFixed(3)} (${mean(xs).toFixed(3)}) ms`)
    .join('');
}
