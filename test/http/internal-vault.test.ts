/**
 * `POST /internal/vault/rotate`, which `berth vault rotate` calls on a serving embedded
 * berth: the rotation's progress as newline-delimited JSON, one last line with its result
 * or a failure the operator can act on, and a rotation that stops when its caller goes.
 * The rotation itself is a stand-in here; test/e2e/vault-rotate.test.ts runs the real one.
 */
import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { createInternalApp } from '../../src/http/internal-app.ts';
import { type RotationOptions, VaultRotationIncompleteError } from '../../src/services/vault-rotation.ts';
import { silentLogger } from './support.ts';

const SECRET = 'internal-secret-for-tests-0123456789abcdef';

/** The internal app with a rotation to k2 that does what `run` does. */
function appWith(run: (options: RotationOptions) => Promise<{ rewrapped: number; failed: [] }>) {
  const calls: RotationOptions[] = [];
  const app = createInternalApp({
    secret: SECRET,
    logger: silentLogger,
    registration: { enhancedUserRegistration: async () => ({ created: true }) },
    vault: {
      keyId: 'k2',
      run: async (options = {}) => {
        calls.push(options);
        return { ...(await run(options)), keyId: 'k2' };
      },
    },
  });
  return { app, calls };
}

const rotate = (app: ReturnType<typeof appWith>['app'], body: unknown, signal?: AbortSignal) =>
  app.request('/internal/vault/rotate', {
    method: 'POST',
    headers: { 'x-internal-api-secret': SECRET, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
const linesOf = async (res: Response) =>
  (await res.text())
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);

describe('the internal vault rotation', () => {
  it('streams the rotation’s progress as lines and ends with its result', async () => {
    const { app, calls } = appWith(async ({ onProgress }) => {
      onProgress?.({ done: 0, total: 5 });
      onProgress?.({ done: 4, total: 5, waiting: 1 });
      onProgress?.({ done: 5, total: 5 });
      return { rewrapped: 5, failed: [] };
    });
    const res = await rotate(app, { batch_size: 4, key_id: 'k2' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-ndjson');
    expect(await linesOf(res)).toEqual([
      { type: 'progress', done: 0, total: 5 },
      { type: 'progress', done: 4, total: 5, waiting: 1 },
      { type: 'progress', done: 5, total: 5 },
      { type: 'result', rewrapped: 5, key_id: 'k2', failed: [] },
    ]);
    expect(calls[0]?.batchSize).toBe(4);
  });

  it('refuses to rotate to a key that is not this berth’s newest', async () => {
    const { app, calls } = appWith(async () => ({ rewrapped: 0, failed: [] }));
    const res = await rotate(app, { key_id: 'k3' });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { detail: string }).detail).toContain(
      'newest master key is "k2", not "k3": restart it with the new keys',
    );
    expect(calls).toEqual([]);
  });

  it('ends with a line saying what failed, and nothing of an unexpected failure’s text', async () => {
    const incomplete = appWith(async () => {
      throw new VaultRotationIncompleteError(2, 30_000);
    });
    expect((await linesOf(await rotate(incomplete.app, {}))).at(-1)).toEqual({
      type: 'error',
      code: 'unavailable',
      message: expect.stringMatching(/^2 secret\(s\) are still under an older master key/),
    });
    const broken = appWith(async () => {
      throw new Error('connection to 10.0.0.5 refused');
    });
    const last = (await linesOf(await rotate(broken.app, {}))).at(-1);
    expect(last).toMatchObject({ type: 'error', code: 'internal' });
    expect(JSON.stringify(last)).not.toContain('10.0.0.5');
  });

  it('stops the rotation when its caller goes away', async () => {
    let sawAbort = false;
    const { app } = appWith(async ({ onProgress, signal }) => {
      onProgress?.({ done: 0, total: 5 });
      // Waits for the abort, or gives up after two seconds so a broken route fails here.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 2000);
        signal?.addEventListener('abort', () => {
          sawAbort = true;
          clearTimeout(timer);
          resolve();
        });
      });
      return { rewrapped: 0, failed: [] };
    });
    const caller = new AbortController();
    const res = await rotate(app, {}, caller.signal);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('"type":"progress"');
    caller.abort();
    await expect.poll(() => sawAbort).toBe(true);
  });

  it('is in the internal API’s OpenAPI document, which stays valid', async () => {
    const { app } = appWith(async () => ({ rewrapped: 0, failed: [] }));
    const res = await app.request('/internal/openapi.json', { headers: { 'x-internal-api-secret': SECRET } });
    const doc = (await res.json()) as { paths: Record<string, Record<string, unknown>> };
    expect((await new Validator().validate(doc)).valid).toBe(true);
    expect(Object.keys(doc.paths['/internal/vault/rotate'] ?? {})).toEqual(['post']);
  });
});
