/**
 * `/api/ssh-keys`: list, read, generate, import, the one-time private key download and
 * delete. Handlers validate, call the SSH key service as the signed-in user and shape the
 * answer; the service's row-level security makes another user's key a 404.
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { TypedResponse } from 'hono';
import type { SshKeyService } from '../../services/ssh-key-service.ts';
import type { UserSshKey } from '../../store/ssh-keys.ts';
import { validationHook } from '../problem.ts';
import type { RateLimiter } from '../rate-limit.ts';
import {
  GenerateKeyBody,
  IdParams,
  ImportKeyBody,
  limitReached,
  problems,
  SshKeySchema,
  toKey,
} from '../schemas.ts';
import type { AppEnv } from '../types.ts';

export type SshKeyApi = Pick<
  SshKeyService,
  'getUserSSHKeys' | 'getUserSSHKey' | 'createKey' | 'importKey' | 'downloadPrivateKey' | 'deleteUserSSHKey'
>;

const tags = ['SSH keys'];
const security = [{ bearerAuth: [] }];
const json = <T>(schema: T) => ({ 'application/json': { schema } });
const KeyList = z.object({ keys: z.array(SshKeySchema) });

export function sshKeyRoutes(deps: { sshKeys: SshKeyApi; limiter: RateLimiter }) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  const ctx = (c: { get(key: 'requestId'): string }) => ({ requestId: c.get('requestId') });
  const bodies = new WeakMap<readonly UserSshKey[], Uint8Array<ArrayBuffer>>();
  const utf8 = new TextEncoder();

  app.openapi(
    createRoute({
      method: 'get',
      path: '/ssh-keys',
      tags,
      security,
      summary: 'List your SSH keys',
      responses: {
        200: { description: 'Your keys.', content: json(KeyList) },
        ...problems(401),
      },
    }),
    async (c) => {
      const keys = await deps.sshKeys.getUserSSHKeys(c.get('user').id);
      // A list from the key list cache is the same object until the user's keys change,
      // so its JSON is made once: serialising it was the largest cost of this read. It is
      // kept as bytes, which Node writes as they are, where a string is encoded anew on
      // every write; TextEncoder's bytes are the body's own size (Buffer.from would slice
      // Node's 8 KiB pool, and a cached slice keeps the whole block alive).
      let body = bodies.get(keys);
      if (body === undefined) {
        body = utf8.encode(JSON.stringify({ keys: keys.map(toKey) } satisfies z.infer<typeof KeyList>));
        bodies.set(keys, body);
      }
      // The JSON is `KeyList`'s shape (checked where it is made); the cast says so to the
      // route's types, which expect c.json.
      return c.body(body, 200, { 'content-type': 'application/json' }) as unknown as TypedResponse<
        z.infer<typeof KeyList>,
        200,
        'json'
      >;
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/ssh-keys/{id}',
      tags,
      security,
      summary: 'Read one SSH key',
      request: { params: IdParams },
      responses: {
        200: { description: 'The key.', content: json(z.object({ key: SshKeySchema })) },
        ...problems(401, 404),
      },
    }),
    async (c) => {
      const key = await deps.sshKeys.getUserSSHKey(c.get('user').id, c.req.valid('param').id);
      return c.json({ key: toKey(key) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/ssh-keys',
      tags,
      security,
      summary: 'Generate a key pair',
      description:
        'berth generates the pair, keeps the private key encrypted and returns it in this answer only ' +
        '(`Cache-Control: no-store`); it counts as downloaded.',
      middleware: [deps.limiter.limit('key-generation')] as const,
      request: { body: { required: true, content: json(GenerateKeyBody) } },
      responses: {
        201: {
          description: 'The key and, this once, its private half.',
          content: json(z.object({ key: SshKeySchema, private_key: z.string() })),
        },
        ...problems(400, 401, 413, 415, 429),
        ...limitReached(
          'You have as many SSH keys as one user may (`limit-reached`, limit `keys_per_user`).',
        ),
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const { key, privateKey } = await deps.sshKeys.createKey(
        c.get('user').id,
        { name: body.name, ...(body.algorithm ? { algorithm: body.algorithm } : {}) },
        ctx(c),
      );
      c.header('cache-control', 'no-store');
      c.header('location', `/api/ssh-keys/${key.id}`);
      return c.json({ key: toKey(key), private_key: privateKey }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/ssh-keys/import',
      tags,
      security,
      summary: 'Import your own public key',
      middleware: [deps.limiter.limit('key-import')] as const,
      request: { body: { required: true, content: json(ImportKeyBody) } },
      responses: {
        201: { description: 'The imported key.', content: json(z.object({ key: SshKeySchema })) },
        ...problems(400, 401, 413, 415, 422, 429),
        ...limitReached(
          'The key is already in your account, or you have as many SSH keys as one user may (`limit-reached`, limit `keys_per_user`).',
        ),
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const key = await deps.sshKeys.importKey(
        c.get('user').id,
        { name: body.name, publicKey: body.public_key },
        ctx(c),
      );
      c.header('location', `/api/ssh-keys/${key.id}`);
      return c.json({ key: toKey(key) }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/ssh-keys/{id}/private-key',
      tags,
      security,
      summary: 'Download a generated private key, once',
      description:
        'For a key berth generated in the background: the first request gets the private key as a file, ' +
        'every later one (also the loser of two racing requests) gets 410.',
      request: { params: IdParams },
      responses: {
        200: {
          description: 'The private key (OpenSSH format).',
          content: { 'application/x-pem-file': { schema: z.string() } },
        },
        ...problems(401, 404, 410),
      },
    }),
    async (c) => {
      const { key, privateKey } = await deps.sshKeys.downloadPrivateKey(
        c.get('user').id,
        c.req.valid('param').id,
        ctx(c),
      );
      const file = `berth-${key.name.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 60)}-${key.algorithm}`;
      return c.body(privateKey, 200, {
        'content-type': 'application/x-pem-file',
        'content-disposition': `attachment; filename="${file}"`,
        'cache-control': 'no-store',
        pragma: 'no-cache',
      });
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/ssh-keys/{id}',
      tags,
      security,
      summary: 'Delete an SSH key',
      description: 'The key is never used for a deploy that starts after this answers.',
      request: { params: IdParams },
      responses: { 204: { description: 'Deleted.' }, ...problems(401, 404) },
    }),
    async (c) => {
      await deps.sshKeys.deleteUserSSHKey(c.get('user').id, c.req.valid('param').id, ctx(c));
      return c.body(null, 204);
    },
  );

  return app;
}
