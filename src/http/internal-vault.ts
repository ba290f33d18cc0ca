/**
 * `POST /internal/vault/rotate`: master key rotation run by a serving berth, for
 * `berth vault rotate` when it cannot open the database itself (an embedded berth holds
 * the data directory). It runs the same rotation service as the command does on its own
 * connection and streams its progress as newline-delimited JSON, one line per batch and
 * a last line with the result or the error, so the command shows the same progress and
 * ends the same way. A caller that goes away stops the rotation between batches; what
 * committed stays, and the next run resumes from there.
 */
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { stream } from 'hono/streaming';
import { BerthError, ConflictError } from '../domain/errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { VaultRotation } from '../services/vault-rotation.ts';
import { problems } from './schemas.ts';
import type { AppEnv } from './types.ts';

// Typed as a plain string: zod-openapi types a literal `application/…json` content type
// as a JSON body, which a stream of lines is not.
export const NDJSON: string = 'application/x-ndjson';

const RotateBody = z
  .object({
    batch_size: z.number().int().min(1).max(10_000).optional(),
    key_id: z.string().min(1).optional().openapi({
      description:
        'The master key the caller expects to rotate to; refused (409) when it is not the newest here.',
    }),
  })
  .openapi('VaultRotateRequest');

/** One line of the answer. */
export const RotationLine = z
  .discriminatedUnion('type', [
    z.object({
      type: z.literal('progress'),
      done: z.number().int(),
      total: z.number().int(),
      waiting: z.number().int().optional(),
    }),
    z.object({
      type: z.literal('result'),
      rewrapped: z.number().int(),
      key_id: z.string(),
      failed: z.array(z.object({ id: z.string(), reason: z.string() })),
    }),
    z.object({ type: z.literal('error'), code: z.string(), message: z.string() }),
  ])
  .openapi('VaultRotationLine', { description: 'One line of the newline-delimited JSON answer.' });
export type RotationLine = z.infer<typeof RotationLine>;

export function vaultRotationRoute(app: OpenAPIHono<AppEnv>, rotation: VaultRotation, logger: Logger): void {
  app.openapi(
    createRoute({
      method: 'post',
      path: '/internal/vault/rotate',
      tags: ['Internal'],
      security: [{ internalSecret: [] }],
      summary: 'Re-wrap every stored secret under the newest master key',
      description:
        'What `berth vault rotate` asks of a serving embedded berth. Streams `progress` lines, then one `result` or `error` line.',
      request: { body: { required: false, content: { 'application/json': { schema: RotateBody } } } },
      responses: {
        200: { description: 'The rotation, as it runs.', content: { [NDJSON]: { schema: RotationLine } } },
        ...problems(400, 401, 409),
      },
    }),
    async (c) => {
      const body = (c.req.valid('json') ?? {}) as z.infer<typeof RotateBody>;
      if (body.key_id !== undefined && body.key_id !== rotation.keyId) {
        throw new ConflictError(
          `This berth's newest master key is "${rotation.keyId}", not "${body.key_id}": restart it with the new keys, then rotate.`,
        );
      }
      c.header('content-type', NDJSON);
      c.header('cache-control', 'no-store');
      // The rotation's lines, which outlive the answer's headers, name their request.
      const log = logger.child({ requestId: c.get('requestId') });
      return stream(c, async (out) => {
        const send = (line: RotationLine) => out.writeln(JSON.stringify(line));
        try {
          const result = await rotation.run({
            ...(body.batch_size !== undefined ? { batchSize: body.batch_size } : {}),
            signal: c.req.raw.signal,
            onProgress: (progress) => void send({ type: 'progress', ...progress }),
          });
          log.info(
            { keyId: result.keyId, rewrapped: result.rewrapped, failed: result.failed.length },
            'vault rotation through the internal API ended',
          );
          await send({
            type: 'result',
            rewrapped: result.rewrapped,
            key_id: result.keyId,
            failed: result.failed,
          });
        } catch (error) {
          if (c.req.raw.signal.aborted) {
            log.info('vault rotation stopped: its caller went away');
            return;
          }
          // A known failure says what to do; anything else is logged here and stays here.
          if (error instanceof BerthError) {
            log.warn({ err: error }, 'vault rotation through the internal API failed');
            await send({ type: 'error', code: error.code, message: error.message });
          } else {
            log.error({ err: error }, 'vault rotation through the internal API failed');
            await send({
              type: 'error',
              code: 'internal',
              message: "The rotation failed; berth's log has the rest.",
            });
          }
        }
      });
    },
  );
}
