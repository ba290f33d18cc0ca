/**
 * manage-agent-tool-environment: the Supabase Edge Function in front of berth (the seed's
 * "Edge Function" layer). It authenticates the user, checks they own the agent and passes
 * the user's id to berth's internal API, which deploys, tears down or reads the agent's
 * tool environment. Configuration comes from the function's environment:
 *
 * - BERTH_URL: berth's public URL (the ownership check calls `GET /api/agents/{id}`).
 * - BERTH_INTERNAL_URL and BERTH_INTERNAL_API_SECRET: berth's internal API and its secret.
 * - Token verification: SUPABASE_JWT_SECRET (or BERTH_JWT_SECRET) for HS256 tokens, and/or
 *   the JWKS at BERTH_JWKS_URL, by default `${SUPABASE_URL}/auth/v1/.well-known/jwks.json`;
 *   the issuer is BERTH_JWT_ISSUER, by default `${SUPABASE_URL}/auth/v1`.
 * - ALLOWED_ORIGIN: the CORS origin, `*` by default.
 * - PORT and HOSTNAME: where to listen when run outside Supabase (`deno run`).
 */
import { createVerifier } from './auth.ts';
import { createHandler } from './handler.ts';

const env = (name: string) => Deno.env.get(name)?.trim() || undefined;
const required = (name: string) => {
  const value = env(name);
  if (!value) throw new Error(`manage-agent-tool-environment: ${name} is not set`);
  return value;
};

const supabaseUrl = env('SUPABASE_URL')?.replace(/\/+$/, '');
const jwtSecret = env('SUPABASE_JWT_SECRET') ?? env('BERTH_JWT_SECRET');
const jwksUrl =
  env('BERTH_JWKS_URL') ?? (supabaseUrl ? `${supabaseUrl}/auth/v1/.well-known/jwks.json` : undefined);
const issuer = env('BERTH_JWT_ISSUER') ?? (supabaseUrl ? `${supabaseUrl}/auth/v1` : undefined);
if (!issuer) throw new Error('manage-agent-tool-environment: set BERTH_JWT_ISSUER or SUPABASE_URL');

const handler = createHandler({
  berthUrl: required('BERTH_URL').replace(/\/+$/, ''),
  internalUrl: required('BERTH_INTERNAL_URL').replace(/\/+$/, ''),
  internalSecret: required('BERTH_INTERNAL_API_SECRET'),
  allowedOrigin: env('ALLOWED_ORIGIN') ?? '*',
  verify: createVerifier({ jwtSecret, jwksUrl, issuer }),
});

const port = env('PORT');
if (port) Deno.serve({ port: Number(port), hostname: env('HOSTNAME') ?? '127.0.0.1' }, handler);
else Deno.serve(handler);
