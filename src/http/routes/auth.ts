/**
 * `/auth/v1`: berth's embedded sign-in, the subset of Supabase Auth's endpoints that a
 * front end uses, answering with Supabase Auth's shapes so `@supabase/supabase-js` works
 * against berth unchanged. Mounted only when berth is its own identity provider. The
 * `apikey` header supabase-js sends is accepted and ignored: there is no anonymous key
 * to check, the endpoints that need a user take a bearer token.
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { EmbeddedAuthApi } from '../../auth/embedded-idp.ts';
import { type AuthDeps, requireUser } from '../auth-middleware.ts';
import type { ClientIpResolver } from '../middleware.ts';
import { validationHook } from '../problem.ts';
import type { RateLimiter } from '../rate-limit.ts';
import { problems } from '../schemas.ts';
import type { AppEnv } from '../types.ts';

export type { EmbeddedAuthApi };

const tags = ['Sign-in (embedded)'];
const json = <T>(schema: T) => ({ 'application/json': { schema } });

const UserSchema = z
  .object({
    id: z.guid(),
    aud: z.literal('authenticated'),
    role: z.literal('authenticated'),
    email: z.string(),
    email_confirmed_at: z.string(),
    confirmed_at: z.string(),
    phone: z.string(),
    app_metadata: z.object({ provider: z.string(), providers: z.array(z.string()) }),
    user_metadata: z.record(z.string(), z.unknown()),
    identities: z.array(z.unknown()),
    created_at: z.string(),
    updated_at: z.string(),
    is_anonymous: z.boolean(),
  })
  .openapi('AuthUser', { description: 'A user, as Supabase Auth describes one.' });

const SessionSchema = z
  .object({
    access_token: z.string(),
    token_type: z.literal('bearer'),
    expires_in: z.number().int(),
    expires_at: z.number().int(),
    refresh_token: z.string(),
    user: UserSchema,
  })
  .openapi('AuthSession', { description: 'A session, as Supabase Auth answers it.' });

const SignUpBody = z
  .object({
    email: z.email().max(320),
    password: z.string().max(1024),
    data: z
      .record(z.string(), z.unknown())
      .optional()
      .openapi({ description: 'Profile data (user_metadata).' }),
  })
  .openapi('SignUpRequest');

const TokenBody = z
  .object({
    email: z.string().max(320).optional(),
    password: z.string().max(1024).optional(),
    refresh_token: z.string().max(512).optional(),
  })
  .openapi('TokenRequest', {
    description:
      '`email` and `password` for grant_type=password; `refresh_token` for grant_type=refresh_token.',
  });

export function authRoutes(deps: {
  service: EmbeddedAuthApi;
  auth: AuthDeps;
  limiter: RateLimiter;
  clientIp: ClientIpResolver;
}) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  app.use('*', async (c, next) => {
    await next();
    c.res.headers.set('x-supabase-api-version', '2024-01-01');
  });
  const signedIn = requireUser(deps.auth);

  app.openapi(
    createRoute({
      method: 'post',
      path: '/signup',
      tags,
      summary: 'Sign up with an email and a password',
      description: 'Creates the account, starts onboarding and signs the user in.',
      middleware: [deps.limiter.limit('sign-up')] as const,
      request: { body: { required: true, content: json(SignUpBody) } },
      responses: {
        200: { description: 'The new session.', content: json(SessionSchema) },
        ...problems(400, 409, 413, 415, 429),
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const session = await deps.service.signUp(body, {
        ip: deps.clientIp(c),
        requestId: c.get('requestId'),
      });
      return c.json(session, 200, { 'cache-control': 'no-store' });
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/token',
      tags,
      summary: 'Sign in, or refresh a session',
      description: 'Refresh tokens are used once; presenting a used one signs the whole session out.',
      middleware: [deps.limiter.limit('token')] as const,
      request: {
        query: z.object({ grant_type: z.enum(['password', 'refresh_token']) }),
        body: { required: true, content: json(TokenBody) },
      },
      responses: {
        200: { description: 'The session.', content: json(SessionSchema) },
        ...problems(400, 413, 415, 429),
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const meta = { ip: deps.clientIp(c), requestId: c.get('requestId') };
      const session =
        c.req.valid('query').grant_type === 'password'
          ? await deps.service.signInWithPassword(
              { email: body.email ?? '', password: body.password ?? '' },
              meta,
            )
          : await deps.service.refresh(body.refresh_token ?? '');
      return c.json(session, 200, { 'cache-control': 'no-store' });
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/user',
      tags,
      security: [{ bearerAuth: [] }],
      summary: 'The signed-in user',
      middleware: [signedIn] as const,
      responses: { 200: { description: 'The user.', content: json(UserSchema) }, ...problems(401) },
    }),
    async (c) => c.json(await deps.service.getUser(c.get('user')), 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/logout',
      tags,
      security: [{ bearerAuth: [] }],
      summary: 'Sign out',
      description:
        '`global` (default) ends every session of the user, `local` this one, `others` all but this one.',
      middleware: [signedIn] as const,
      request: { query: z.object({ scope: z.enum(['global', 'local', 'others']).optional() }) },
      responses: { 204: { description: 'Signed out.' }, ...problems(401) },
    }),
    async (c) => {
      await deps.service.signOut(c.get('user'), c.req.valid('query').scope ?? 'global');
      return c.body(null, 204);
    },
  );

  return app;
}
