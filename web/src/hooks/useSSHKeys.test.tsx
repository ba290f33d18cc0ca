import { act, renderHook, waitFor } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { ApiError } from '../api/client.ts';
import { fakeBerth, json, keyFixture, problem, testClient, wrapperFor } from '../test/harness.tsx';
import { useSSHKeys } from './useSSHKeys.ts';

describe('useSSHKeys', () => {
  it('lists the keys with the access token, and refreshes the list after generating one', async () => {
    let keys = [keyFixture()];
    const berth = fakeBerth({
      'GET /api/ssh-keys': () => json({ keys }),
      'POST /api/ssh-keys': ({ body }) => {
        const key = keyFixture({
          id: '66666666-6666-4666-8666-666666666666',
          name: (body as { name: string }).name,
        });
        keys = [...keys, key];
        return json({ key, private_key: 'PRIVATE' }, 201);
      },
    });
    const { result } = renderHook(() => useSSHKeys(), {
      wrapper: wrapperFor(testClient(berth.fetch, { token: 'token-of-ada' })),
    });
    await waitFor(() => expect(result.current.keys).toHaveLength(1));
    expect(berth.sent[0]?.authorization).toBe('Bearer token-of-ada');

    let answer: { private_key: string } | undefined;
    await act(async () => {
      answer = await result.current.generate.mutateAsync({ name: 'ci', algorithm: 'rsa' });
    });
    expect(answer?.private_key).toBe('PRIVATE');
    expect(berth.calls('POST', '/api/ssh-keys')[0]?.body).toEqual({ name: 'ci', algorithm: 'rsa' });
    await waitFor(() => expect(result.current.keys.map((k) => k.name)).toEqual(['default', 'ci']));
  });

  it("turns berth's 410 for a private key already downloaded into its words, and saves nothing", async () => {
    const saveFile = vi.fn();
    const berth = fakeBerth({
      'GET /api/ssh-keys': () => json({ keys: [keyFixture({ private_key_available: true })] }),
      'GET /api/ssh-keys/{id}/private-key': () =>
        problem(410, 'gone', 'This private key was already downloaded; berth shows it only once.'),
    });
    const { result } = renderHook(() => useSSHKeys({ saveFile }), {
      wrapper: wrapperFor(testClient(berth.fetch)),
    });
    await waitFor(() => expect(result.current.keys).toHaveLength(1));
    const key = result.current.keys[0]!;
    await act(async () => {
      await result.current.downloadPrivateKey.mutateAsync(key).catch(() => {});
    });
    // TanStack Query renders a mutation's outcome on a later tick than its promise settles.
    await waitFor(() => expect(result.current.downloadPrivateKey.error).not.toBeNull());
    const error = result.current.downloadPrivateKey.error;
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(410);
    expect((error as ApiError).message).toBe(
      'This private key was already downloaded; berth shows it only once.',
    );
    expect(saveFile).not.toHaveBeenCalled();
    // The list is asked again, so the key's download offer reflects berth's answer.
    await waitFor(() => expect(berth.calls('GET', '/api/ssh-keys')).toHaveLength(2));
  });

  it('names the field berth found wrong when an import is refused as invalid input', async () => {
    const berth = fakeBerth({
      'GET /api/ssh-keys': () => json({ keys: [] }),
      'POST /api/ssh-keys/import': () =>
        problem(400, 'invalid-input', 'The request is not valid.', [
          { location: 'body', field: 'name', message: 'Too small: expected string to have >=1 characters' },
        ]),
    });
    const { result } = renderHook(() => useSSHKeys(), { wrapper: wrapperFor(testClient(berth.fetch)) });
    await act(async () => {
      await result.current.importKey
        .mutateAsync({ name: '', public_key: 'ssh-ed25519 AAAA' })
        .catch(() => {});
    });
    await waitFor(() => expect(result.current.importKey.error).not.toBeNull());
    const error = result.current.importKey.error as ApiError;
    expect(error.messageFor('name')).toBe('Too small: expected string to have >=1 characters');
    expect(error.messageFor('public_key')).toBeUndefined();
  });
});
