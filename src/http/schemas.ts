/**
 * The API's shapes, as zod schemas that both validate and document (the OpenAPI document
 * is generated from them), and the functions that turn service results into them. Every
 * answer is built from an explicit list of fields, never by spreading a service object,
 * so a field added to a row can never reach a caller by accident; in particular no key
 * answer can carry private material, because no key schema has a place for it.
 */
import { z } from '@hono/zod-openapi';
import { ENVIRONMENT_STATES, ONBOARDING_STATES } from '../db/schema.ts';
import { SSH_KEY_ALGORITHMS } from '../domain/sshkeys/generate.ts';
import type { OnboardingStatus, ToolEnvironment } from '../services/contracts.ts';
import type { Agent } from '../store/agents.ts';
import type { UserSshKey } from '../store/ssh-keys.ts';

const id = (description: string) =>
  z.guid().openapi({ description, example: '7f9c2a8e-3b1d-4c8a-9e2f-1a2b3c4d5e6f' });
const timestamp = () => z.iso.datetime({ offset: true });

export const IdParams = z.object({
  id: z.guid().openapi({ param: { name: 'id', in: 'path' }, description: 'The resource id (a UUID).' }),
});

export const ProblemSchema = z
  .object({
    type: z.url().openapi({ example: 'https://berth.dev/problems/not-found' }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string().optional(),
    request_id: z.string().nullable(),
    code: z.string().openapi({ description: 'A stable, machine-readable code.' }),
    errors: z
      .array(z.object({ location: z.string(), field: z.string(), message: z.string() }))
      .optional()
      .openapi({ description: 'For invalid input: where the request is wrong.' }),
    limit: z
      .enum(['agents_per_user', 'live_environments_per_user'])
      .optional()
      .openapi({ description: 'For limit-reached: which per-user limit.' }),
    max: z.number().int().optional().openapi({ description: 'For limit-reached: what the limit allows.' }),
    current: z
      .number()
      .int()
      .optional()
      .openapi({ description: 'For limit-reached: how many the user has now.' }),
  })
  .openapi('Problem', { description: 'An RFC 9457 problem (application/problem+json).' });

export const SshKeySchema = z
  .object({
    id: id('The key id.'),
    name: z.string(),
    algorithm: z.string().openapi({ example: 'ed25519' }),
    source: z.enum(['generated', 'imported']),
    public_key: z.string().openapi({ description: 'One authorized_keys line.' }),
    fingerprint_sha256: z.string().openapi({ example: 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s' }),
    fingerprint_md5: z.string().openapi({ example: '3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa' }),
    digitalocean_key_id: z.number().int().nullable(),
    is_default: z.boolean().openapi({ description: 'The key berth generated for the user at onboarding.' }),
    private_key_available: z.boolean().openapi({
      description: 'Whether the one-time private key download is still available.',
    }),
    created_at: timestamp(),
  })
  .openapi('SshKey', { description: 'An SSH key. Never carries private material.' });

export const toKey = (key: UserSshKey) => ({
  id: key.id,
  name: key.name,
  algorithm: key.algorithm,
  source: key.source,
  public_key: key.publicKey,
  fingerprint_sha256: key.fingerprintSha256,
  fingerprint_md5: key.fingerprintMd5,
  digitalocean_key_id: key.digitaloceanKeyId,
  is_default: key.isDefault,
  private_key_available: key.hasPrivateKey && !key.privateKeyDownloaded,
  created_at: key.createdAt.toISOString(),
});

/**
 * Request bodies are strict: a field berth does not know is refused, not dropped. A
 * dropped field would do something else than the caller meant, silently: an import's
 * `public_key` sent to the generate route would make a new key pair and hand back its
 * private half. The two likeliest mix-ups get a message that says where to go instead.
 */
const unknownFields = (hints: Record<string, string>) => ({
  error: (issue: { code?: string; keys?: string[] }) => {
    if (issue.code !== 'unrecognized_keys') return undefined;
    const hinted = issue.keys?.find((key) => key in hints);
    return hinted ? hints[hinted] : 'Not a field this route takes.';
  },
});

export const GenerateKeyBody = z
  .strictObject(
    {
      name: z.string().min(1).max(100),
      algorithm: z.enum(SSH_KEY_ALGORITHMS).optional().openapi({ description: 'Default ed25519.' }),
    },
    unknownFields({
      public_key: 'This route generates a key pair; to import a public key, POST /api/ssh-keys/import.',
    }),
  )
  .openapi('GenerateKeyRequest');

export const ImportKeyBody = z
  .strictObject(
    {
      name: z.string().min(1).max(100),
      public_key: z.string().min(1).max(16_384).openapi({ description: 'An OpenSSH public key line.' }),
    },
    unknownFields({
      private_key:
        'berth imports public keys only: send the public key line, and keep the private key to yourself.',
    }),
  )
  .openapi('ImportKeyRequest');

export const AgentSchema = z
  .object({ id: id('The agent id.'), name: z.string(), created_at: timestamp(), updated_at: timestamp() })
  .openapi('Agent');

export const toAgent = (agent: Agent) => ({
  id: agent.id,
  name: agent.name,
  created_at: agent.createdAt.toISOString(),
  updated_at: agent.updatedAt.toISOString(),
});

export const CreateAgentBody = z
  .strictObject({ name: z.string().min(1).max(100) }, unknownFields({}))
  .openapi('CreateAgentRequest');

export const EnvironmentSchema = z
  .object({
    id: id('The environment id.'),
    agent_id: id('The agent it belongs to.'),
    status: z.enum(ENVIRONMENT_STATES),
    droplet_id: z.number().int().nullable(),
    name: z.string(),
    ip_address: z.string().nullable(),
    ssh_port: z.number().int().nullable().openapi({ description: 'Where to SSH.' }),
    ssh_user: z.string(),
    ssh_key_fingerprints: z.array(z.string()),
    used_fallback_keys: z.boolean(),
    login_access: z.enum(['live', 'fixed']).openapi({
      description:
        'live: logins are checked against berth at each login, so adding or deleting a key applies at once; fixed: only the keys the droplet was created with let anyone in (droplets made before live checks).',
    }),
    error_message: z.string().nullable(),
    created_at: timestamp(),
    updated_at: timestamp(),
  })
  .openapi('ToolEnvironment', { description: "An agent's tool environment (a droplet)." });

export const toEnvironment = (env: ToolEnvironment) => ({
  id: env.id,
  agent_id: env.agentId,
  status: env.status,
  droplet_id: env.dropletId,
  name: env.name,
  ip_address: env.ipAddress,
  ssh_port: env.sshPort,
  ssh_user: env.sshUser,
  ssh_key_fingerprints: [...env.sshKeyFingerprints],
  used_fallback_keys: env.usedFallbackKeys,
  login_access: env.loginAccess,
  error_message: env.errorMessage,
  created_at: env.createdAt.toISOString(),
  updated_at: env.updatedAt.toISOString(),
});

export const OnboardingSchema = z
  .object({
    status: z.enum(ONBOARDING_STATES),
    error: z.string().nullable().openapi({ description: 'Why onboarding failed; null unless failed.' }),
    key_id: z.guid().nullable().openapi({ description: 'The default key, once generated.' }),
    updated_at: timestamp().nullable(),
  })
  .openapi('OnboardingStatus');

export const toOnboarding = (status: OnboardingStatus) => ({
  status: status.status,
  error: status.error,
  key_id: status.keyId,
  updated_at: status.updatedAt ? status.updatedAt.toISOString() : null,
});

/** A 409 `limit-reached` answer, for a route that makes what a per-user limit counts. */
export function limitReached(description: string) {
  return {
    409: { description, content: { 'application/problem+json': { schema: ProblemSchema } } },
  };
}

/** The standard problem answers a route can give, for the OpenAPI document. */
export function problems(...statuses: number[]) {
  const describe: Record<number, string> = {
    400: 'The request is not valid.',
    401: 'No valid access token.',
    404: 'No such resource, or it belongs to someone else.',
    409: 'The request conflicts with the current state.',
    410: 'The resource was already consumed.',
    413: 'The body is too large.',
    415: 'The body is not JSON.',
    422: 'The content is not acceptable.',
    429: 'Too many requests; see retry-after.',
    503: 'Not available right now.',
  };
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      {
        description: describe[status] ?? 'A problem.',
        content: { 'application/problem+json': { schema: ProblemSchema } },
      },
    ]),
  );
}
