/**
 * The smoke test CI runs on every supported Node: `berth serve` (as `npm start` runs it)
 * starts on its embedded defaults, answers /healthz, serves the web UI, and signs a user
 * up and lists their keys over HTTP. It also checks how the TypeScript ran: with Node's
 * own type stripping where Node has it (22.18+, 24), through tsx only where Node cannot
 * strip types. A probe loaded before bin/berth.js prints each module the process resolves
 * from tsx, so the test sees which of the two really ran berth.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWebIfStale } from '../../web/scripts/build.ts';
import { type BerthProcess, spawnBerth } from '../support/berth-process.ts';

const HOOKS = `export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  if (result.url.includes('/node_modules/tsx/')) process.stderr.write('probe: resolved ' + result.url + '\\n');
  return result;
}`;
const PROBE = `import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(HOOKS)}));`;
const PROBE_URL = `data:text/javascript,${encodeURIComponent(PROBE)}`;

const stripsTypes = Boolean((process.features as { typescript?: string | false }).typescript);

describe(`berth serve on Node ${process.version}, on embedded defaults`, () => {
  let berth: BerthProcess | undefined;
  beforeAll(async () => {
    await buildWebIfStale({ quiet: true });
    berth = await spawnBerth({}, { embedded: true, nodeArgs: ['--import', PROBE_URL], timeoutMs: 110_000 });
  }, 180_000);
  afterAll(async () => {
    await berth?.stop();
  });

  it(stripsTypes ? 'runs its TypeScript without loading tsx' : 'runs its TypeScript through tsx', () => {
    const fromTsx = berth!.logs.filter((line) => line.includes('probe: resolved'));
    if (stripsTypes) expect(fromTsx).toEqual([]);
    else expect(fromTsx.join('\n')).toContain('/node_modules/tsx/');
  });

  it('answers /healthz and serves the web UI', async () => {
    const health = await fetch(`${berth!.url}/healthz`);
    expect(health.status).toBe(200);
    const page = await fetch(`${berth!.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toContain('<div id="root">');
  });

  it('signs a user up and lists their keys', async () => {
    const signUp = await fetch(`${berth!.url}/auth/v1/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        email: `smoke-${Date.now()}@example.test`,
        password: 'correct horse battery staple',
      }),
    });
    expect(signUp.status).toBe(200);
    const { access_token: token } = (await signUp.json()) as { access_token: string };
    const keys = await fetch(`${berth!.url}/api/ssh-keys`, { headers: { authorization: `Bearer ${token}` } });
    expect(keys.status).toBe(200);
    expect((await keys.json()) as { keys: unknown[] }).toMatchObject({ keys: expect.any(Array) });
  });
});
