/**
 * berth's internal API (the seed's interface contract), for the platform's backend and
 * the edge function: deploy, tear down and read an agent's tool environment on behalf of
 * a user, and register a user that an external identity provider signed up. It is served
 * on its own listener, bound to loopback unless configured otherwise, and every request
 * must carry the service secret in `X-Internal-Api-Secret`, compared in constant time.
 * The caller vouches for the user; berth still checks that the user owns the agent.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Hono, MiddlewareHandler } from 'hono';
import type { UserRegistration } from '../auth/embedded-idp.ts';
import { normaliseEmail } from '../domain/email.ts';
import { InvalidInputError, NotFoundError } from '../domain/errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { EnvironmentService } from '../services/contracts.ts';
import type { VaultRotation } from '../services/vault-rotation.ts';
import { vaultRotationRoute } from './internal-vault.ts';
import { checkBodies, DEFAULT_BODY_LIMIT_BYTES, requestIds } from './middleware.ts';
import { createErrorHandler, NotAvailableYetError, problemResponse, validationHook } from './problem.ts';
import { EnvironmentSchema, problems, toEnvironment } from './schemas.ts';
import type { AppEnv } from './types.ts';

export const INTERNAL_SECRET_HEADER = 'x-internal-api-secret';

/** An email as a caller may send it: normalised as berth stores it, then checked. */
const EmailInput = z.string().max(320).openapi({ format: 'email' }).transform(normaliseEmail).pipe(z.email());

export interface InternalAppDeps {
  /** BERTH_INTERNAL_API_SECRET; the app refuses every request that does not carry it. */
  secret: string;
  logger: Logger;
  environments?: EnvironmentService | undefined;
  registration: UserRegistration;
  /** Master key rotation, for `berth vault rotate` while this berth holds the embedded database. */
  vault?: VaultRotation | undefined;
  bodyLimitBytes?: number;
  /** Further internal routes (metrics), added by the composition root after berth's own. */
  extraRoutes?: (app: Hono<AppEnv>) => void;
  /**
   * Paths of extra routes that check their callers themselves and so skip the secret
   * check: `/metrics`, which a Prometheus scrape reaches with a bearer token of its own.
   */
  selfAuthenticatedPaths?: string[];
  /** Runs around every request once its id is set: the access log and HTTP metrics. */
  observe?: MiddlewareHandler<AppEnv>;
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Compares digests, so neither the secret's length nor its bytes leak through timing. */
export function secretMatches(expected: string, given: string | undefined): boolean {
  return given !== undefined && timingSafeEqual(digest(expected), digest(given));
}

const requireSecret =
  (secret: string, open: readonly string[] = []): MiddlewareHandler<AppEnv> =>
  async (c, next) => {
    if (open.includes(c.req.path)) return next();
    if (!secretMatches(secret, c.req.header(INTERNAL_SECRET_HEADER))) {
      return problemResponse(c, 'unauthorized', 'This API needs the internal API secret.', {
        code: 'unauthorized',
      });
    }
    await next();
  };

const AgentParams = z.object({ agentId: z.guid().openapi({ param: { name: 'agentId', in: 'path' } }) });
const UserParams = z.object({ userId: z.guid().openapi({ param: { name: 'userId', in: 'path' } }) });
const UserBody = z.object({ userId: z.guid() }).openapi('InternalUserRequest');
const json = <T>(schema: T) => ({ 'application/json': { schema } });
const EnvironmentAnswer = z.object({ environment: EnvironmentSchema });
const security = [{ internalSecret: [] }];
const tags = ['Internal'];

export function createInternalApp(deps: InternalAppDeps): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  app.onError(createErrorHandler(deps.logger));
  app.notFound((c) => problemResponse(c, 'not-found', 'There is nothing at this address.'));
  app.use('*', requestIds());
  if (deps.observe) app.use('*', deps.observe);
  app.use('*', checkBodies(deps.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES));
  app.use('*', requireSecret(deps.secret, deps.selfAuthenticatedPaths));
  const environments = () => {
    if (!deps.environments) throw new NotAvailableYetError('Tool environments');
    return deps.environments;
  };
  const ctx = (requestId: string) => ({ requestId, actor: 'service:internal-api' });

  app.openapi(
    createRoute({
      method: 'post',
      path: '/internal/agents/{agentId}/ensure-tool-environment',
      tags,
      security,
      summary: 'Deploy an agent’s tool environment for a user',
      request: { params: AgentParams, body: { required: true, content: json(UserBody) } },
      responses: {
        202: { description: 'The environment.', content: json(EnvironmentAnswer) },
        ...problems(400, 401, 404, 503),
      },
    }),
    async (c) => {
      const { agentId } = c.req.valid('param');
      const env = await environments().ensureToolEnvironmentReady(
        agentId,
        c.req.valid('json').userId,
        ctx(c.get('requestId')),
      );
      return c.json({ environment: toEnvironment(env) }, 202);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/internal/agents/{agentId}/tool-environment',
      tags,
      security,
      summary: 'Tear an agent’s tool environment down for a user',
      description: 'The user id comes in the JSON body, or as the `userId` query parameter.',
      request: {
        params: AgentParams,
        query: z.object({ userId: z.guid().optional() }),
        body: { required: false, content: json(UserBody) },
      },
      responses: {
        202: { description: 'The environment.', content: json(EnvironmentAnswer) },
        ...problems(400, 401, 404, 503),
      },
    }),
    async (c) => {
      const body = c.req.valid('json') as { userId?: string };
      const userId = body.userId ?? c.req.valid('query').userId;
      if (!userId) throw new InvalidInputError('userId: required in the body or the query.');
      const env = await environments().teardownToolEnvironment(
        c.req.valid('param').agentId,
        userId,
        ctx(c.get('requestId')),
      );
      return c.json({ environment: toEnvironment(env) }, 202);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/internal/agents/{agentId}/tool-environment',
      tags,
      security,
      summary: 'Read an agent’s tool environment for a user',
      request: { params: AgentParams, query: z.object({ userId: z.guid() }) },
      responses: {
        200: { description: 'The environment.', content: json(EnvironmentAnswer) },
        ...problems(400, 401, 404, 503),
      },
    }),
    async (c) => {
      const env = await environments().getToolEnvironment(
        c.req.valid('param').agentId,
        c.req.valid('query').userId,
      );
      if (!env) throw new NotFoundError('Tool environment');
      return c.json({ environment: toEnvironment(env) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/internal/users/{userId}/onboard',
      tags,
      security,
      summary: 'Register a user that an external identity provider signed up',
      description:
        'Writes the user and enqueues their onboarding (key generation) together. Idempotent: a ' +
        'user already registered is left as they are. The email is stored trimmed and lower-cased. ' +
        'An email another provider user holds moves to this new user (the other keeps their keys); ' +
        'one held by an account that signs in with a password is refused with 409.',
      request: {
        params: UserParams,
        body: {
          required: false,
          content: json(z.object({ email: EmailInput.optional() }).openapi('OnboardRequest')),
        },
      },
      responses: {
        202: {
          description: 'Registered.',
          content: json(z.object({ user_id: z.guid(), created: z.boolean() })),
        },
        ...problems(400, 401, 409),
      },
    }),
    async (c) => {
      const { userId } = c.req.valid('param');
      const email = (c.req.valid('json') as { email?: string }).email ?? null;
      const { created } = await deps.registration.enhancedUserRegistration(
        { id: userId, email },
        ctx(c.get('requestId')),
      );
      return c.json({ user_id: userId, created }, 202);
    },
  );

  if (deps.vault) vaultRotationRoute(app, deps.vault, deps.logger);

  app.openAPIRegistry.registerComponent('securitySchemes', 'internalSecret', {
    type: 'apiKey',
    in: 'header',
    name: 'X-Internal-Api-Secret',
  });
  app.doc31('/internal/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'berth internal API', version: '0.1.0' },
  });
  // Metrics and other operator endpoints are added here by the composition root.
  deps.extraRoutes?.(app);
  return app;
}
