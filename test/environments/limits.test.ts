/**
 * Per-user limits, held under concurrency: however many requests of one user arrive at
 * once, no more agents and no more live tool environments are recorded than the limits
 * allow (the defaults: 20 and 5), and a torn-down environment frees its slot.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LimitReachedError } from '../../src/domain/errors.ts';
import { DEFAULT_USER_LIMITS } from '../../src/domain/limits.ts';
import { AgentService } from '../../src/services/agent-service.ts';
import { testEngines } from '../support/db.ts';
import { eventually, openStack, type Stack } from '../support/environments.ts';

const rowsOf = <T>(result: unknown) => (result as { rows: T[] }).rows;

describe.each(testEngines())('per-user limits on %s', (engine) => {
  let s: Stack;
  beforeAll(async () => {
    s = await openStack(engine);
  });
  afterAll(async () => {
    await s?.close();
  });

  const count = async (table: 'agents' | 'agent_droplets', userId: string) => {
    const live = table === 'agent_droplets' ? sql` and status <> 'deleted'` : sql``;
    const [row] = rowsOf<{ n: number }>(
      await s.t.authz.asService('test: count', (tx) =>
        tx.execute(
          sql`select count(*)::int as n from ${sql.identifier(table)} where user_id = ${userId}${live}`,
        ),
      ),
    );
    return row?.n;
  };
  const refusals = (results: PromiseSettledResult<unknown>[]) =>
    results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));

  it('uses the documented defaults: 20 agents, 5 live environments and 50 SSH keys per user', () => {
    expect(DEFAULT_USER_LIMITS).toEqual({ agentsPerUser: 20, liveEnvironmentsPerUser: 5, keysPerUser: 50 });
  });

  it('creates 20 of 35 agents asked for at once, and refuses the others naming the limit', async () => {
    const agents = new AgentService({ authz: s.t.authz });
    const userId = await s.t.createUser();
    const results = await Promise.allSettled(
      Array.from({ length: 35 }, (_, i) => agents.createAgent(userId, { name: `agent ${i}` })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(20);
    const refused = refusals(results);
    expect(refused).toHaveLength(15);
    for (const error of refused) {
      expect(error).toBeInstanceOf(LimitReachedError);
      expect((error as LimitReachedError).details).toEqual({
        limit: 'agents_per_user',
        max: 20,
        current: 20,
      });
    }
    expect(await count('agents', userId)).toBe(20);
    // Another user has limits of their own.
    const other = await s.t.createUser();
    await expect(agents.createAgent(other, { name: 'theirs' })).resolves.toMatchObject({ name: 'theirs' });
  });

  it('records exactly 5 of 10 deploys at once, and a teardown frees a slot', async () => {
    const { service } = s.environments;
    const userId = await s.t.createUser();
    const agentIds = await Promise.all(Array.from({ length: 10 }, (_, i) => s.createAgent(userId, `a${i}`)));
    const results = await Promise.allSettled(
      agentIds.map((id) => service.ensureToolEnvironmentReady(id, userId)),
    );
    const deployed = agentIds.filter((_, i) => results[i]?.status === 'fulfilled');
    const waiting = agentIds.filter((_, i) => results[i]?.status === 'rejected');
    expect(deployed).toHaveLength(5);
    for (const error of refusals(results)) {
      expect(error).toBeInstanceOf(LimitReachedError);
      expect((error as LimitReachedError).details).toEqual({
        limit: 'live_environments_per_user',
        max: 5,
        current: 5,
      });
      expect((error as Error).message).toMatch(/You have 5 live tool environments.*5 per user/);
    }
    expect(await count('agent_droplets', userId)).toBe(5);
    // Deploying an agent already deployed returns its environment, at the limit too.
    await expect(service.ensureToolEnvironmentReady(deployed[0]!, userId)).resolves.toBeTruthy();

    await eventually(async () => {
      const states = await Promise.all(deployed.map((id) => service.getToolEnvironment(id, userId)));
      return states.every((e) => e?.status === 'active');
    });
    await service.teardownToolEnvironment(deployed[0]!, userId);
    await service.settled();
    expect((await service.getToolEnvironment(deployed[0]!, userId)) ?? null).toBeNull();
    await expect(service.ensureToolEnvironmentReady(waiting[0]!, userId)).resolves.toMatchObject({
      status: 'pending_creation',
    });
    await expect(service.ensureToolEnvironmentReady(waiting[1]!, userId)).rejects.toBeInstanceOf(
      LimitReachedError,
    );
    expect(await count('agent_droplets', userId)).toBe(5);
    await service.settled();
  });
});
