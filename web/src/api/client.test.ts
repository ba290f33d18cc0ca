import { describe, expect, it, vi } from 'vitest';
import { fakeBerth, json, problem, testClient } from '../test/harness.tsx';
import { ApiError, errorMessage, unwrap } from './client.ts';

describe('the API client', () => {
  it('sends the access token and returns the data of a success', async () => {
    const berth = fakeBerth({ 'GET /api/agents': () => json({ agents: [] }) });
    const data = await unwrap(testClient(berth.fetch, { token: 'abc' }).GET('/api/agents'));
    expect(data).toEqual({ agents: [] });
    expect(berth.sent[0]?.authorization).toBe('Bearer abc');
  });

  it("raises berth's problem detail, code and field errors", async () => {
    const berth = fakeBerth({
      'POST /api/agents': () =>
        problem(400, 'invalid-input', 'The request is not valid.', [
          { location: 'body', field: 'name', message: 'Required' },
        ]),
    });
    const call = testClient(berth.fetch).POST('/api/agents', { body: { name: '' } });
    const error = await unwrap(call).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 400, code: 'invalid-input', message: 'The request is not valid.' });
    expect((error as ApiError).messageFor('name')).toBe('Required');
  });

  it('tells the app the session is over when berth answers 401', async () => {
    const onUnauthorized = vi.fn();
    const berth = fakeBerth({
      'GET /api/agents': () => problem(401, 'unauthorized', 'The access token expired.'),
    });
    const error = await unwrap(testClient(berth.fetch, { onUnauthorized }).GET('/api/agents')).catch(
      (e) => e,
    );
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
    expect(errorMessage(error)).toBe('The access token expired.');
  });

  it('says berth could not be reached when the network fails', async () => {
    const client = testClient(() => Promise.reject(new TypeError('Failed to fetch')));
    const error = await unwrap(client.GET('/api/agents')).catch((e) => e);
    expect(error).toMatchObject({ status: 0 });
    expect(errorMessage(error)).toMatch(/could not be reached/);
  });

  it('treats a 204 as success and an empty failure by its status', async () => {
    const berth = fakeBerth({
      'DELETE /api/agents/{id}': () => new Response(null, { status: 204 }),
      'GET /api/agents': () => new Response(null, { status: 503 }),
    });
    const client = testClient(berth.fetch);
    await expect(
      unwrap(
        client.DELETE('/api/agents/{id}', {
          params: { path: { id: '88888888-8888-4888-8888-888888888888' } },
        }),
      ),
    ).resolves.toBeUndefined();
    const error = await unwrap(client.GET('/api/agents')).catch((e) => e);
    expect(errorMessage(error)).toBe('berth could not do that right now. Try again in a moment.');
  });
});
