import { afterEach, describe, expect, it } from 'vitest';
import { parseErrorRate, parseLatency } from '../../src/digitalocean/emulator/faults.ts';
import { DroppedConnectionError } from '../../src/digitalocean/emulator/index.ts';
import { TEST_TOKEN, type TestEmulator, testEmulator } from '../support/do-spec.ts';

const dropletBody = { name: 'web-1', region: 'nyc3', size: 's-1vcpu-1gb', image: 'ubuntu-24-04-x64' };
const headers = { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' };

let t: TestEmulator;
afterEach(async () => {
  expect(t.responseViolations()).toEqual([]);
  await t.emulator.close();
});

describe('deterministic faults', () => {
  it('fails the next N calls to an endpoint, then lets calls through, counting every one', async () => {
    t = testEmulator();
    t.emulator.admin.failNext('droplets_create', 2, 503);
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await t.api('POST', '/v2/droplets', { body: dropletBody }));
    expect(answers.map((a) => a.status)).toEqual([503, 503, 202]);
    expect(answers[0]?.body).toMatchObject({ id: 'service_unavailable' });
    expect(answers[0]?.body.request_id).toBe(answers[0]?.headers['x-request-id']);
    expect(t.emulator.admin.counters()).toEqual({ droplets_create: 3 });
    expect(t.emulator.state.droplets.size).toBe(1);
  });

  it('accepts a create and then fails its answer, leaving the droplet in place', async () => {
    t = testEmulator();
    t.emulator.admin.acceptThenFail('droplets_create', 500);
    const res = await t.api('POST', '/v2/droplets', { body: { ...dropletBody, tags: ['deploy-x'] } });
    expect(res.status).toBe(500);
    expect(res.body).toMatchObject({ id: 'server_error' });
    const listed = await t.api('GET', '/v2/droplets?tag_name=deploy-x');
    expect(listed.body.droplets).toHaveLength(1);
  });

  it('sends an injected 429 with retry-after, or without it when asked', async () => {
    t = testEmulator();
    t.emulator.admin.failNext('droplets_list', 1, 429);
    t.emulator.admin.addFault({ endpoint: 'droplets_list', fault: 429, times: 1, retryAfterSeconds: null });
    const first = await t.api('GET', '/v2/droplets');
    const second = await t.api('GET', '/v2/droplets');
    expect([first.status, second.status]).toEqual([429, 429]);
    expect(first.headers['retry-after']).toBe('1');
    expect(second.headers['retry-after']).toBeUndefined();
    expect(second.body.message).toBe('API rate limit exceeded.');
  });

  it('fails a share of calls using the random source it was given', async () => {
    const rolls = [0.1, 0.9, 0.2, 0.7];
    t = testEmulator({ random: () => rolls.shift() ?? 1 });
    t.emulator.admin.setErrorRate('*', 500, 0.5);
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await t.api('GET', '/v2/droplets')).status);
    expect(statuses).toEqual([500, 200, 500, 200]);
  });

  it('adds latency to one endpoint', async () => {
    t = testEmulator();
    t.emulator.admin.setLatency('droplets_list', 150);
    const started = Date.now();
    await t.api('GET', '/v2/droplets');
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    const quick = Date.now();
    await t.api('GET', '/v2/account/keys');
    expect(Date.now() - quick).toBeLessThan(140);
  });

  it('rejects an in-process request whose connection is dropped', async () => {
    t = testEmulator();
    t.emulator.admin.failNext('droplets_list', 1, 'drop');
    await expect(t.api('GET', '/v2/droplets')).rejects.toBeInstanceOf(DroppedConnectionError);
  });
});

describe('faults over a real connection', () => {
  it('drops the connection after creating the droplet when told to', async () => {
    t = testEmulator();
    const { url } = await t.emulator.listen(0);
    t.emulator.admin.acceptThenFail('droplets_create', 'drop');
    const attempt = fetch(`${url}/v2/droplets`, {
      method: 'POST',
      headers,
      body: JSON.stringify(dropletBody),
    });
    await expect(attempt).rejects.toThrow();
    expect(t.emulator.state.droplets.size).toBe(1);
  });

  it('holds a request until the client gives up', async () => {
    t = testEmulator();
    const { url } = await t.emulator.listen(0);
    t.emulator.admin.failNext('droplets_list', 1, 'timeout');
    const started = Date.now();
    await expect(
      fetch(`${url}/v2/droplets`, { headers, signal: AbortSignal.timeout(300) }),
    ).rejects.toThrow();
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    // The emulator is still healthy afterwards.
    expect((await fetch(`${url}/v2/droplets`, { headers })).status).toBe(200);
  });

  it('drops a held request after hangMs', async () => {
    t = testEmulator();
    const { url } = await t.emulator.listen(0);
    t.emulator.admin.addFault({ endpoint: 'droplets_list', fault: 'timeout', hangMs: 200, times: 1 });
    const started = Date.now();
    await expect(fetch(`${url}/v2/droplets`, { headers })).rejects.toThrow();
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });
});

describe('the admin API under /_emulator', () => {
  it('refuses callers without the token', async () => {
    t = testEmulator();
    const res = await t.api('GET', '/_emulator/counters', { token: 'nope' });
    expect(res.status).toBe(401);
  });

  it('adds faults, reports counters and state, and resets', async () => {
    t = testEmulator();
    const added = await t.api('POST', '/_emulator/faults', {
      body: { endpoint: 'droplets_create', fault: 500, phase: 'after', times: 1 },
    });
    expect(added.status).toBe(201);
    expect((await t.api('POST', '/v2/droplets', { body: dropletBody })).status).toBe(500);
    const state = await t.api('GET', '/_emulator/state');
    expect(state.body.droplets).toHaveLength(1);
    expect(state.body.droplets[0].address).toBe('127.0.0.2');
    expect(typeof state.body.ssh_port).toBe('number');
    expect((await t.api('GET', '/_emulator/counters')).body.counters).toEqual({ droplets_create: 1 });

    expect((await t.api('PUT', '/_emulator/latency', { body: { ms: 5 } })).status).toBe(204);
    expect((await t.api('POST', '/_emulator/reset', { body: { state: true } })).status).toBe(204);
    expect((await t.api('GET', '/_emulator/counters')).body.counters).toEqual({});
    expect((await t.api('GET', '/_emulator/faults')).body.faults).toEqual([]);
    expect(t.emulator.state.droplets.size).toBe(0);
  });

  it('refuses a fault it cannot understand', async () => {
    t = testEmulator();
    const res = await t.api('POST', '/_emulator/faults', {
      body: { endpoint: 'droplets_create', fault: 418 },
    });
    expect(res.status).toBe(422);
  });

  it('takes faults and latency from options at start', async () => {
    t = testEmulator({ faults: [{ endpoint: 'sshKeys_list', fault: 503, times: 1 }] });
    expect((await t.api('GET', '/v2/account/keys')).status).toBe(503);
    expect((await t.api('GET', '/v2/account/keys')).status).toBe(200);
  });
});

describe('fault specs from the command line', () => {
  it('reads endpoint=code:rate and latency specs', () => {
    expect(parseErrorRate('droplets_create=500:0.25')).toEqual({
      endpoint: 'droplets_create',
      fault: 500,
      rate: 0.25,
    });
    expect(parseErrorRate('*=drop:1')).toEqual({ endpoint: '*', fault: 'drop', rate: 1 });
    expect(() => parseErrorRate('droplets_create=418:0.5')).toThrow(/endpoint=code:rate/);
    expect(() => parseErrorRate('droplets_create=500:2')).toThrow();
    expect(parseLatency('250')).toEqual({ endpoint: '*', ms: 250 });
    expect(parseLatency('sshKeys_get=40')).toEqual({ endpoint: 'sshKeys_get', ms: 40 });
  });
});
