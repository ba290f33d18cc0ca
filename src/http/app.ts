/**
 * berth's public HTTP application: health and readiness, the user API under `/api`
 * (typed with zod; the OpenAPI 3.1 document at `/api/openapi.json` is generated from the
 * routes themselves and rendered at `/api/docs`), and the embedded sign-in under
 * `/auth/v1` when berth is its own identity provider. Handlers stay thin: they validate,
 * call a service as the signed-in user and shape the answer. Every service arrives as a
 * parameter; the environment and onboarding services are optional, and their routes
 * answer 503 "not available yet" until they are wired in.
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Hono, MiddlewareHandler } from 'hono';
import type { Logger } from '../observability/logger.ts';
import type { EnvironmentService } from '../services/contracts.ts';
import { type AuthDeps, requireUser } from './auth-middleware.ts';
import { defaultHeaders } from './default-headers.ts';
import { DOCS_CSP, DOCS_CSS, DOCS_HTML, DOCS_JS } from './docs-page.ts';
import {
  type ClientIpResolver,
  checkBodies,
  clientIpResolver,
  corsFor,
  DEFAULT_BODY_LIMIT_BYTES,
  requestIds,
} from './middleware.ts';
import { createErrorHandler, problemResponse, validationHook } from './problem.ts';
import { createRateLimiter, DEFAULT_RATE_LIMITS, type RateLimitSettings } from './rate-limit.ts';
import { type AgentApi, agentRoutes } from './routes/agents.ts';
import { authRoutes, type EmbeddedAuthApi } from './routes/auth.ts';
import { type OnboardingStatusApi, onboardingRoutes } from './routes/onboarding.ts';
import { type SshKeyApi, sshKeyRoutes } from './routes/ssh-keys.ts';
import type { AppEnv } from './types.ts';

export interface HttpAppDeps {
  logger: Logger;
  /** Resolves true when berth can serve requests (database reachable). */
  ready: () => Promise<boolean>;
  sshKeys: SshKeyApi;
  agents: AgentApi;
  /** Absent until the environment service is wired in: its routes answer 503. */
  environments?: EnvironmentService | undefined;
  /** Absent until the onboarding service is wired in: `/api/onboarding` answers 503. */
  onboarding?: OnboardingStatusApi | undefined;
  /** Token verification; `embedded` serves `/auth/v1` when berth is the identity provider. */
  auth: AuthDeps & { embedded?: EmbeddedAuthApi | undefined };
  rateLimits?: RateLimitSettings;
  /** Origins allowed to call the API from a browser; none means no CORS. */
  corsOrigins?: string[];
  bodyLimitBytes?: number;
  clientIp?: ClientIpResolver;
  version?: string;
  /**
   * Further routes the composition root adds after berth's own: the web UI at `/`, a
   * metrics endpoint. They are registered last, so they cannot shadow the API.
   */
  extraRoutes?: (app: Hono<AppEnv>) => void;
  /** Runs around every request once its id is set: the access log and HTTP metrics. */
  observe?: MiddlewareHandler<AppEnv>;
}

export function createHttpApp(deps: HttpAppDeps): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  const clientIp = deps.clientIp ?? clientIpResolver(0);
  const limiter = createRateLimiter(deps.rateLimits ?? DEFAULT_RATE_LIMITS, clientIp);
  // No CORS step at all when no origin is allowed: every API request would pass through it.
  const cors = deps.corsOrigins?.length ? [corsFor(deps.corsOrigins)] : [];
  const bodies = checkBodies(deps.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES);

  app.onError(createErrorHandler(deps.logger));
  app.notFound((c) => problemResponse(c, 'not-found', 'There is nothing at this address.'));
  app.use('*', requestIds());
  if (deps.observe) app.use('*', deps.observe);
  app.use('*', defaultHeaders());
  for (const prefix of ['/api/*', '/auth/*']) {
    app.use(prefix, ...cors, bodies);
  }

  app.openapi(
    createRoute({
      method: 'get',
      path: '/healthz',
      tags: ['Health'],
      summary: 'Liveness',
      responses: {
        200: {
          description: 'berth is up.',
          content: { 'application/json': { schema: z.object({ status: z.literal('ok') }) } },
        },
      },
    }),
    (c) => c.json({ status: 'ok' as const }, 200),
  );
  const Readiness = z.object({ status: z.enum(['ready', 'not ready']) });
  app.openapi(
    createRoute({
      method: 'get',
      path: '/readyz',
      tags: ['Health'],
      summary: 'Readiness: the database answers',
      responses: {
        200: { description: 'Ready.', content: { 'application/json': { schema: Readiness } } },
        503: { description: 'Not ready.', content: { 'application/json': { schema: Readiness } } },
      },
    }),
    async (c) => {
      const ok = await deps.ready().catch(() => false);
      return ok ? c.json({ status: 'ready' as const }, 200) : c.json({ status: 'not ready' as const }, 503);
    },
  );

  // The documents are registered before the API so the API's token check never sees them.
  let document: unknown;
  app.get('/api/openapi.json', (c) => {
    document ??= app.getOpenAPI31Document({
      openapi: '3.1.0',
      info: {
        title: 'berth API',
        version: deps.version ?? '0.1.0',
        description:
          'Per-user SSH keys and DigitalOcean tool environments for AI agents. Every /api route takes a ' +
          'bearer access token (a Supabase-compatible JWT). Errors are RFC 9457 problem+json.',
      },
    });
    return c.json(document as Record<string, unknown>);
  });
  app.get('/api/docs', (c) => c.html(DOCS_HTML, 200, { 'content-security-policy': DOCS_CSP }));
  app.get('/api/docs/docs.js', (c) =>
    c.body(DOCS_JS, 200, { 'content-type': 'text/javascript; charset=utf-8' }),
  );
  app.get('/api/docs/docs.css', (c) => c.body(DOCS_CSS, 200, { 'content-type': 'text/css; charset=utf-8' }));

  const api = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  api.use('*', requireUser(deps.auth));
  api.route('/', sshKeyRoutes({ sshKeys: deps.sshKeys, limiter }));
  api.route('/', agentRoutes({ agents: deps.agents, environments: deps.environments, limiter }));
  api.route('/', onboardingRoutes({ onboarding: deps.onboarding }));
  app.route('/api', api);

  if (deps.auth.embedded) {
    app.route('/auth/v1', authRoutes({ service: deps.auth.embedded, auth: deps.auth, limiter, clientIp }));
  }
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
  });

  deps.extraRoutes?.(app);
  return app;
}
