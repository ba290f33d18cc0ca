/**
 * The client's log lines as an on-call engineer reads them: each names the call it is
 * about and, when the caller said which berth request or job the call serves, that
 * request's id, so one request's DigitalOcean calls, retries and fallbacks can be found
 * by the id the user was given.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DigitalOceanClient } from './client.ts';
import { InMemoryRateBudget } from './rate-budget.ts';
import { type Stub, startStub } from './testing.ts';

const FP = '3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa';
const KEY = { id: 7, fingerprint: FP, name: 'k', public_key: 'ssh-ed25519 AAAA k' };

let stub: Stub | undefined;
afterEach(async () => {
  await stub?.close();
  stub = undefined;
});

interface Line {
  message: string;
  fields: Record<string, unknown>;
}

function clientLogging(url: string): { client: DigitalOceanClient; lines: Line[] } {
  const lines: Line[] = [];
  const record = (fields: Record<string, unknown>, message: string) => lines.push({ message, fields });
  const client = new DigitalOceanClient({
    baseUrl: url,
    token: () => 'dop_v1_test',
    rateBudget: new InMemoryRateBudget(),
    logger: { debug: record, warn: record },
    random: () => 0.5,
    retry: { maxRetries: 2, baseDelayMs: 5, maxDelayMs: 10 },
  });
  return { client, lines };
}

describe('the DigitalOcean client’s log lines', () => {
  it('name the call and its request on every line, the retry included', async () => {
    let calls = 0;
    stub = await startStub(() =>
      calls++ === 0
        ? { status: 503, body: { id: 'service_unavailable', message: 'try again' } }
        : { status: 200, body: { ssh_key: KEY } },
    );
    const { client, lines } = clientLogging(stub.url);
    await client.getSshKey(7, { requestId: 'req-42' });
    expect(lines.map((l) => l.message)).toEqual([
      'DigitalOcean call',
      'retrying DigitalOcean call',
      'DigitalOcean call',
    ]);
    for (const line of lines) {
      expect(line.fields).toMatchObject({ method: 'GET', path: '/v2/account/keys/7', requestId: 'req-42' });
    }
    expect(lines[1]?.fields).toMatchObject({ attempt: 1, error: expect.stringContaining('503') });
    expect(lines[1]?.fields.delayMs).toEqual(expect.any(Number));
  });

  it('carry the request through a key registration’s fallback to the lookup', async () => {
    stub = await startStub((call) =>
      call.method === 'POST'
        ? {
            status: 422,
            body: { id: 'unprocessable_entity', message: 'SSH Key is already in use on your account' },
          }
        : { status: 200, body: { ssh_key: KEY } },
    );
    const { client, lines } = clientLogging(stub.url);
    await client.ensureSshKey(
      { name: 'k', publicKey: KEY.public_key, fingerprintMd5: FP },
      { createFirst: true, requestId: 'req-43' },
    );
    const fallback = lines.find((l) => l.message.startsWith('SSH key already on the DigitalOcean account'));
    expect(fallback?.fields).toEqual({ fingerprint: FP, requestId: 'req-43' });
    expect(lines.filter((l) => l.fields.requestId !== 'req-43')).toEqual([]);
  });

  it('carry no request id for work that serves none', async () => {
    stub = await startStub(() => ({ status: 200, body: { ssh_key: KEY } }));
    const { client, lines } = clientLogging(stub.url);
    await client.getSshKey(7);
    expect(lines).toHaveLength(1);
    expect(lines[0]?.fields).not.toHaveProperty('requestId');
  });
});
