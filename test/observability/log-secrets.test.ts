/**
 * berth's logs hold no secret. A whole berth runs at debug level with its log lines kept
 * in memory, through its main flows: sign up, sign in, a failed sign-in, a token refresh,
 * generate a key, download the key onboarding made, import a key, create an agent,
 * deploy it to active and tear it down, and two DigitalOcean failures (droplet creates
 * failing; key registration rate limited, so the deploy falls back to the operator's
 * keys). Then no line may contain private key material, an issued access or refresh
 * token, a password, a master key, the signing secret, the internal or metrics secret or
 * the DigitalOcean token, and every line of a request carries its request id. The same
 * run's metrics are checked against what the flows did.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair } from '../../src/domain/sshkeys/generate.ts';
import { type EngineName, testEngines } from '../support/db.ts';
import { eventually } from '../support/eventually.ts';
import { type LoggedBerth, sampleValue, startLoggedBerth } from './berth-flows.ts';

interface Secret {
  name: string;
  value: string;
}

/** The parts of a private key worth searching for: the whole text and each body line. */
function privateKeyParts(name: string, pem: string): Secret[] {
  const body = pem
    .split('\n')
    .filter((line) => line && !line.startsWith('-----'))
    .map((line) => line.trim());
  return [
    { name, value: pem.trim() },
    { name: `${name} (body)`, value: body.join('') },
    ...body.filter((line) => line.length >= 24).map((value) => ({ name: `${name} (a body line)`, value })),
  ];
}

/** A JWT, and its signature alone (a log line that cut the token would still leak it). */
function tokenParts(name: string, token: string): Secret[] {
  return [
    { name, value: token },
    { name: `${name} (signature)`, value: token.split('.').at(-1) ?? token },
  ];
}

describe.each(testEngines())('berth’s logs on %s', { timeout: 240_000 }, (engine: EngineName) => {
  let b: LoggedBerth;
  const secrets: Secret[] = [];
  const remember = (...found: Secret[]) => secrets.push(...found);

  beforeAll(async () => {
    b = await startLoggedBerth(engine);
    remember(...b.operatorSecrets);
  }, 120_000);
  afterAll(() => b?.stop());

  async function signUp(email: string, password: string) {
    remember({ name: 'password', value: password });
    const res = await b.api('POST', '/auth/v1/signup', { body: { email, password } });
    expect(res.status).toBe(200);
    remember(...tokenParts('access token', res.json.access_token));
    remember({ name: 'refresh token', value: res.json.refresh_token });
    return res.json as { access_token: string; refresh_token: string; user: { id: string } };
  }

  async function deployAndWait(token: string, agentName: string, until_: (status: string) => boolean) {
    const agent = await b.api('POST', '/api/agents', { token, body: { name: agentName } });
    expect(agent.status).toBe(201);
    const id = agent.json.agent.id as string;
    const deploy = await b.api('POST', `/api/agents/${id}/tool-environment`, { token });
    expect(deploy.status).toBe(202);
    const env = await eventually(async () => {
      const res = await b.api('GET', `/api/agents/${id}/tool-environment`, { token });
      return until_(res.json?.environment?.status) ? res.json.environment : null;
    });
    return { agentId: id, env };
  }

  it('runs berth’s main flows', async () => {
    const email = `ada.${Date.now()}@example.test`;
    const password = 'correct horse battery staple 42';
    const session = await signUp(email, password);

    const signIn = await b.api('POST', '/auth/v1/token?grant_type=password', { body: { email, password } });
    expect(signIn.status).toBe(200);
    remember(...tokenParts('access token', signIn.json.access_token));
    remember({ name: 'refresh token', value: signIn.json.refresh_token });
    const wrong = await b.api('POST', '/auth/v1/token?grant_type=password', {
      body: { email, password: 'a wrong password, also secret' },
    });
    expect(wrong.status).toBe(400);
    remember({ name: 'wrong password', value: 'a wrong password, also secret' });
    const refreshed = await b.api('POST', '/auth/v1/token?grant_type=refresh_token', {
      body: { refresh_token: signIn.json.refresh_token },
    });
    expect(refreshed.status).toBe(200);
    remember(...tokenParts('access token', refreshed.json.access_token));
    remember({ name: 'refresh token', value: refreshed.json.refresh_token });
    const token = refreshed.json.access_token as string;

    const generated = await b.api('POST', '/api/ssh-keys', { token, body: { name: 'laptop' } });
    expect(generated.status).toBe(201);
    remember(...privateKeyParts('generated private key', generated.json.private_key));

    const onboarding = await eventually(async () => {
      const res = await b.api('GET', '/api/onboarding', { token });
      return res.json?.status === 'ready' ? res.json : null;
    });
    const download = await b.api('GET', `/api/ssh-keys/${onboarding.key_id}/private-key`, { token });
    expect(download.status).toBe(200);
    expect(download.text).toContain('PRIVATE KEY');
    remember(...privateKeyParts('downloaded private key', download.text));

    const own = generateKeyPair({ comment: 'imported' });
    remember(...privateKeyParts('private half of an imported key', own.privateKey));
    const imported = await b.api('POST', '/api/ssh-keys/import', {
      token,
      body: { name: 'imported', public_key: own.publicKey },
    });
    expect(imported.status).toBe(201);

    const { agentId, env } = await deployAndWait(token, 'first', (s) => s === 'active');
    expect(env.used_fallback_keys).toBe(false);
    const teardown = await b.api('DELETE', `/api/agents/${agentId}/tool-environment`, { token });
    expect(teardown.status).toBe(202);
    await eventually(async () => {
      const res = await b.api('GET', `/api/agents/${agentId}/tool-environment`, { token });
      return res.status === 404 || res.json?.environment?.status === 'deleted' ? true : null;
    });

    // DigitalOcean fails the droplet creates: the deploy ends in error_creation.
    const failing = b.emulator.admin.setErrorRate('droplets_create', 500, 1);
    try {
      const failed = await deployAndWait(token, 'second', (s) => s === 'error_creation');
      expect(failed.env.error_message).toBeTruthy();
    } finally {
      b.emulator.admin.removeFault(failing.id);
    }

    // DigitalOcean rate limits key registration: a new user's first deploy falls back.
    const limited = b.emulator.admin.addFault({ endpoint: 'sshKeys_create', fault: 429 });
    try {
      const other = await signUp(`grace.${Date.now()}@example.test`, 'another long password 99');
      const fallback = await deployAndWait(other.access_token, 'third', (s) => s === 'active');
      expect(fallback.env.used_fallback_keys).toBe(true);
    } finally {
      b.emulator.admin.removeFault(limited.id);
    }
    expect(session.user.id).toBeTruthy();
  });

  it('writes no private key, token, password, master key or operator secret to any log line', () => {
    expect(b.lines.length).toBeGreaterThan(50);
    // The flows ran at debug level: DigitalOcean calls and requests were logged.
    expect(b.lines.some((l) => l.includes('"msg":"DigitalOcean call"'))).toBe(true);
    expect(b.lines.some((l) => l.includes('"msg":"request"'))).toBe(true);
    expect(secrets.length).toBeGreaterThan(20);
    for (const line of b.lines) {
      expect(line).not.toMatch(/PRIVATE KEY/);
      expect(line).not.toMatch(/\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\./);
      for (const secret of secrets) {
        if (line.includes(secret.value)) throw new Error(`a log line holds a ${secret.name}: ${line}`);
      }
    }
  });

  it('puts the request id on every line logged while a request is served', () => {
    const entries = b.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const access = entries.filter((e) => e.msg === 'request');
    expect(access.length).toBeGreaterThan(10);
    for (const entry of access) expect(entry.requestId).toEqual(expect.any(String));
    // The wrong password's refusal is logged inside its request, under its id.
    const refused = entries.filter((e) => e.msg === 'request refused' || e.msg === 'request failed');
    for (const entry of refused) expect(entry.requestId).toEqual(expect.any(String));
    // A deploy's background half logs under the id of the request that started it.
    const failedDeploys = entries.filter((e) => e.msg === 'environment creation failed');
    expect(failedDeploys.length).toBeGreaterThan(0);
    for (const entry of failedDeploys) expect(entry.requestId).toEqual(expect.any(String));
  });

  it('counts what the flows did in its metrics', async () => {
    const text = await b.scrape();
    const at = (name: string, labels: Record<string, string> = {}) => sampleValue(text, name, labels) ?? 0;
    expect(at('berth_deploys_total', { outcome: 'created', path: 'cold' })).toBeGreaterThanOrEqual(1);
    expect(at('berth_deploys_total', { outcome: 'failed', path: 'warm' })).toBeGreaterThanOrEqual(1);
    expect(at('berth_deploys_total', { outcome: 'created', path: 'fallback' })).toBeGreaterThanOrEqual(1);
    expect(at('berth_deploy_key_overhead_seconds_count', { path: 'fallback' })).toBeGreaterThanOrEqual(1);
    expect(at('berth_ssh_key_cache_requests_total', { result: 'hit_memory' })).toBeGreaterThanOrEqual(1);
    expect(at('berth_ssh_key_cache_requests_total', { result: 'miss' })).toBeGreaterThanOrEqual(1);
    expect(
      at('berth_digitalocean_requests_total', { endpoint: 'POST /v2/droplets', status: '500' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      at('berth_digitalocean_requests_total', { endpoint: 'DELETE /v2/droplets/{id}', status: '204' }),
    ).toBeGreaterThanOrEqual(1);
    expect(at('berth_digitalocean_rate_limited_total')).toBeGreaterThanOrEqual(1);
    expect(at('berth_digitalocean_rate_budget_remaining', { window: 'minute' })).toBeLessThan(250);
    expect(
      at('berth_vault_operations_total', { operation: 'encrypt', outcome: 'success' }),
    ).toBeGreaterThanOrEqual(2);
    expect(
      at('berth_vault_operations_total', { operation: 'decrypt', outcome: 'success' }),
    ).toBeGreaterThanOrEqual(1);
    expect(at('berth_vault_operations_total', { operation: 'decrypt', outcome: 'failure' })).toBe(0);
    expect(at('berth_onboarding_users', { status: 'ready' })).toBeGreaterThanOrEqual(1);
    expect(at('berth_tool_environments', { status: 'error_creation' })).toBe(1);
    expect(sampleValue(text, 'berth_jobs', { queue: 'onboard-user', state: 'failed' })).toBeDefined();
    expect(
      at('berth_job_runs_total', { queue: 'onboard-user', outcome: 'completed' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      at('berth_http_requests_total', {
        listener: 'public',
        method: 'POST',
        route: '/api/agents/:id/tool-environment',
        status: '202',
      }),
    ).toBeGreaterThanOrEqual(3);
    expect(at('berth_http_requests_total', { route: '/auth/v1/token', status: '400' })).toBe(1);
    expect(sampleValue(text, 'process_cpu_seconds_total')).toBeGreaterThan(0);
  });
});
