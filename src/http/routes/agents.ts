/**
 * `/api/agents` and each agent's tool environment. Agents are plain CRUD over the agent
 * service. The environment routes call the environment service: deploy and teardown
 * answer 202 at once with the record (the work goes on in the background), status reads
 * it. Until an environment service is wired in, those routes answer 503 "not available
 * yet" rather than pretending.
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { NotFoundError } from '../../domain/errors.ts';
import type { AgentService } from '../../services/agent-service.ts';
import type { EnvironmentService } from '../../services/contracts.ts';
import { NotAvailableYetError, validationHook } from '../problem.ts';
import type { RateLimiter } from '../rate-limit.ts';
import {
  AgentSchema,
  CreateAgentBody,
  EnvironmentSchema,
  IdParams,
  limitReached,
  problems,
  toAgent,
  toEnvironment,
} from '../schemas.ts';
import type { AppEnv } from '../types.ts';

export type AgentApi = Pick<AgentService, 'listAgents' | 'getAgent' | 'createAgent' | 'deleteAgent'>;

const security = [{ bearerAuth: [] }];
const json = <T>(schema: T) => ({ 'application/json': { schema } });
const EnvironmentAnswer = z.object({ environment: EnvironmentSchema });

export function agentRoutes(deps: {
  agents: AgentApi;
  environments?: EnvironmentService | undefined;
  limiter: RateLimiter;
}) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  const tags = ['Agents'];
  const ctx = (c: Context<AppEnv>) => ({ requestId: c.get('requestId') });

  app.openapi(
    createRoute({
      method: 'get',
      path: '/agents',
      tags,
      security,
      summary: 'List your agents',
      responses: {
        200: { description: 'Your agents.', content: json(z.object({ agents: z.array(AgentSchema) })) },
        ...problems(401),
      },
    }),
    async (c) => c.json({ agents: (await deps.agents.listAgents(c.get('user').id)).map(toAgent) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/agents',
      tags,
      security,
      summary: 'Create an agent',
      description: 'Refused (409 `limit-reached`) when you already have as many agents as one user may.',
      request: { body: { required: true, content: json(CreateAgentBody) } },
      responses: {
        201: { description: 'The new agent.', content: json(z.object({ agent: AgentSchema })) },
        ...problems(400, 401, 413, 415),
        ...limitReached(
          'You have as many agents as one user may (`limit-reached`, limit `agents_per_user`).',
        ),
      },
    }),
    async (c) => {
      const agent = await deps.agents.createAgent(
        c.get('user').id,
        { name: c.req.valid('json').name },
        ctx(c),
      );
      c.header('location', `/api/agents/${agent.id}`);
      return c.json({ agent: toAgent(agent) }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/agents/{id}',
      tags,
      security,
      summary: 'Read one agent',
      request: { params: IdParams },
      responses: {
        200: { description: 'The agent.', content: json(z.object({ agent: AgentSchema })) },
        ...problems(401, 404),
      },
    }),
    async (c) =>
      c.json({ agent: toAgent(await deps.agents.getAgent(c.get('user').id, c.req.valid('param').id)) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/agents/{id}',
      tags,
      security,
      summary: 'Delete an agent',
      description: 'Refused (409) while the agent still has a tool environment holding a droplet.',
      request: { params: IdParams },
      responses: { 204: { description: 'Deleted.' }, ...problems(401, 404, 409) },
    }),
    async (c) => {
      await deps.agents.deleteAgent(c.get('user').id, c.req.valid('param').id, ctx(c));
      return c.body(null, 204);
    },
  );

  const envTags = ['Tool environments'];
  const environments = deps.environments;

  app.openapi(
    createRoute({
      method: 'post',
      path: '/agents/{id}/tool-environment',
      tags: envTags,
      security,
      summary: 'Deploy the agent’s tool environment',
      description:
        'Answers at once with the environment record; the droplet is created in the background with your ' +
        'SSH keys and followed to `active`. Deploying an agent that already has a live environment returns it. ' +
        'A new environment is refused (409 `limit-reached`) when you already have as many live environments ' +
        'as one user may; a torn-down environment stops counting once it is deleted.',
      middleware: [deps.limiter.limit('deploy')] as const,
      request: { params: IdParams },
      responses: {
        202: { description: 'The environment.', content: json(EnvironmentAnswer) },
        ...problems(401, 404, 429, 503),
        ...limitReached(
          'You have as many live tool environments as one user may (`limit-reached`, limit ' +
            '`live_environments_per_user`).',
        ),
      },
    }),
    async (c) => {
      if (!environments) throw new NotAvailableYetError('Deploying tool environments');
      const env = await environments.ensureToolEnvironmentReady(
        c.req.valid('param').id,
        c.get('user').id,
        ctx(c),
      );
      return c.json({ environment: toEnvironment(env) }, 202);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/agents/{id}/tool-environment',
      tags: envTags,
      security,
      summary: 'Read the agent’s tool environment',
      request: { params: IdParams },
      responses: {
        200: { description: 'The environment.', content: json(EnvironmentAnswer) },
        ...problems(401, 404, 503),
      },
    }),
    async (c) => {
      if (!environments) throw new NotAvailableYetError('Tool environments');
      const env = await environments.getToolEnvironment(c.req.valid('param').id, c.get('user').id);
      if (!env) throw new NotFoundError('Tool environment');
      return c.json({ environment: toEnvironment(env) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/agents/{id}/tool-environment',
      tags: envTags,
      security,
      summary: 'Tear the agent’s tool environment down',
      description: 'Answers at once; the droplet is destroyed in the background. Your keys stay.',
      request: { params: IdParams },
      responses: {
        202: { description: 'The environment, now being deleted.', content: json(EnvironmentAnswer) },
        ...problems(401, 404, 503),
      },
    }),
    async (c) => {
      if (!environments) throw new NotAvailableYetError('Tool environments');
      const env = await environments.teardownToolEnvironment(
        c.req.valid('param').id,
        c.get('user').id,
        ctx(c),
      );
      return c.json({ environment: toEnvironment(env) }, 202);
    },
  );

  return app;
}
