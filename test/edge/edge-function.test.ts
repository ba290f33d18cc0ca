/**
 * The Supabase Edge Function on the real Deno runtime (the npm package `deno`), in front
 * of a whole berth listening on random ports: it verifies the caller's token, checks
 * ownership through berth's public API, calls the internal API with the user's id and
 * passes berth's answers, errors included, through. Deno resolves `npm:jose` from this
 * repository's node_modules and may load nothing from the network (`--no-remote`).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBerth } from '../support/berth-process.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const DENO = join(ROOT, 'node_modules/.bin/deno');
const FUNCTION = join(ROOT, 'supabase/functions/manage-agent-tool-environment/index.ts');
const INTERNAL_SECRET = 'edge-test-internal-secret-0123456789abcdef';
const denoDir = mkdtempSync(join(tmpdir(), 'berth-deno-'));
const DENO_FLAGS = ['--node-modules-dir=manual', '--no-remote'];

async function startFunction(env: Record<string, string>): Promise<{ url: string; process: ChildProcess }> {
  const child = spawn(DENO, ['run', ...DENO_FLAGS, '--allow-net=127.0.0.1', '--allow-env', FUNCTION], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, DENO_DIR: denoDir, DENO_NO_UPDATE_CHECK: '1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise<string>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`the function did not start:\n${output}`)), 30_000);
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /Listening on (http:\/\/[^\s/]+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        done(match[1].replace('localhost', '127.0.0.1'));
      }
    };
    child.stdout?.on('data', read);
    child.stderr?.on('data', read);
    child.once('exit', (code) => fail(new Error(`the function exited (${code}):\n${output}`)));
  });
  return { url, process: child };
}

describe('the manage-agent-tool-environment edge function on Deno', () => {
  let running: Awaited<ReturnType<typeof startTestBerth>>;
  let edge: Awaited<ReturnType<typeof startFunction>>;
  let misconfigured: Awaited<ReturnType<typeof startFunction>>;
  let jwtSecret: string;
  let issuer: string;
  const users: Record<'alice' | 'bob', { id: string; token: string }> = {} as never;
  let agentId: string;

  const invoke = async (
    method: string,
    options: { token?: string; body?: unknown; query?: string; to?: string } = {},
  ): Promise<{ status: number; headers: Headers; json: ReturnType<typeof JSON.parse> }> => {
    const res = await fetch(`${options.to ?? edge.url}/${options.query ? `?${options.query}` : ''}`, {
      method,
      headers: {
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...(options.body ? { 'content-type': 'application/json' } : {}),
      },
      ...(options.body ? { body: JSON.stringify(options.body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : null };
  };

  beforeAll(async () => {
    execFileSync(DENO, ['check', ...DENO_FLAGS, FUNCTION], {
      cwd: ROOT,
      env: { ...process.env, DENO_DIR: denoDir },
      stdio: 'pipe',
    });
    running = await startTestBerth({ BERTH_INTERNAL_API_SECRET: INTERNAL_SECRET, INTERNAL_PORT: '0' });
    jwtSecret = readFileSync(join(running.dataDir, 'jwt.secret'), 'utf8').trim();
    issuer = `${running.berth.url}/auth/v1`;
    const env = {
      BERTH_URL: running.berth.url,
      BERTH_INTERNAL_URL: running.berth.internalUrl as string,
      BERTH_INTERNAL_API_SECRET: INTERNAL_SECRET,
      BERTH_JWT_SECRET: jwtSecret,
      BERTH_JWT_ISSUER: issuer,
    };
    [edge, misconfigured] = await Promise.all([
      startFunction(env),
      startFunction({ ...env, BERTH_INTERNAL_API_SECRET: 'not-the-secret-berth-was-given-0123456789' }),
    ]);
    for (const name of ['alice', 'bob'] as const) {
      const res = await fetch(`${running.berth.url}/auth/v1/signup`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: `${name}-${Date.now()}@example.test`, password: 'a long password' }),
      });
      const session = JSON.parse(await res.text());
      users[name] = { id: session.user.id, token: session.access_token };
    }
    const agent = await fetch(`${running.berth.url}/api/agents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${users.alice.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'edge agent' }),
    });
    agentId = JSON.parse(await agent.text()).agent.id;
  }, 120_000);

  afterAll(async () => {
    edge?.process.kill();
    misconfigured?.process.kill();
    await running?.stop();
    rmSync(denoDir, { recursive: true, force: true });
  });

  it('refuses callers without a valid token', async () => {
    const none = await invoke('POST', { body: { agentId } });
    expect([none.status, none.json.type]).toEqual([401, 'https://berth.dev/problems/unauthorized']);
    const forged = await new SignJWT({ role: 'authenticated' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(users.alice.id)
      .setIssuer(issuer)
      .setAudience('authenticated')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode('someone-elses-secret-0123456789-abcdefgh'));
    expect((await invoke('POST', { token: forged, body: { agentId } })).status).toBe(401);
    const expired = await new SignJWT({ role: 'authenticated' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(users.alice.id)
      .setIssuer(issuer)
      .setAudience('authenticated')
      .setExpirationTime(Math.floor(Date.now() / 1000) - 120)
      .sign(new TextEncoder().encode(jwtSecret));
    const res = await invoke('POST', { token: expired, body: { agentId } });
    expect([res.status, res.json.detail]).toEqual([401, 'The access token has expired.']);
  });

  it('passes berth’s 404 through for another user’s agent, and deploys nothing for them', async () => {
    const res = await invoke('POST', { token: users.bob.token, body: { agentId } });
    expect([res.status, res.json.type]).toEqual([404, 'https://berth.dev/problems/not-found']);
    const status = await invoke('GET', { token: users.alice.token, query: `agentId=${agentId}` });
    expect(status.status).toBe(404);
    expect(status.json.detail).toBe('Tool environment not found');
  });

  it('deploys, reports and tears down the caller’s agent through berth’s internal API', async () => {
    const deployed = await invoke('POST', { token: users.alice.token, body: { agentId } });
    expect(deployed.status).toBe(202);
    expect(deployed.json.environment).toMatchObject({ agent_id: agentId });
    expect(deployed.headers.get('access-control-allow-origin')).toBe('*');
    let environment = deployed.json.environment;
    for (let i = 0; i < 100 && environment.status !== 'active'; i++) {
      await new Promise((done) => setTimeout(done, 100));
      environment = (await invoke('GET', { token: users.alice.token, query: `agentId=${agentId}` })).json
        .environment;
    }
    expect(environment.status).toBe('active');
    const viaPost = await invoke('POST', { token: users.alice.token, body: { agentId, action: 'status' } });
    expect([viaPost.status, viaPost.json.environment.id]).toEqual([200, deployed.json.environment.id]);
    const torn = await invoke('DELETE', { token: users.alice.token, body: { agentId } });
    expect(torn.status).toBe(202);
    expect(['pending_deletion', 'deleting', 'deleted']).toContain(torn.json.environment.status);
  });

  it('answers a missing agent id with 400 and a refused service secret with 502', async () => {
    const res = await invoke('POST', { token: users.alice.token, body: {} });
    expect([res.status, res.json.code]).toEqual([400, 'invalid_input']);
    const bad = await invoke('GET', {
      token: users.alice.token,
      query: `agentId=${agentId}`,
      to: misconfigured.url,
    });
    expect([bad.status, bad.json.code]).toEqual([502, 'upstream_error']);
  });

  it('answers a browser’s preflight', async () => {
    const res = await fetch(edge.url, { method: 'OPTIONS', headers: { origin: 'https://app.example' } });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-headers')).toContain('authorization');
  });
});
