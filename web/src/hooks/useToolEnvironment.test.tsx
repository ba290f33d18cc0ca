import { act, renderHook, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { fakeBerth, json, problem, testClient, wrapperFor } from '../test/harness.tsx';
import { useToolEnvironment } from './useToolEnvironment.ts';

const AGENT = '44444444-4444-4444-8444-444444444444';
const PATH = `/api/agents/${AGENT}/tool-environment`;

function environment(status: string, extra: Record<string, unknown> = {}) {
  return {
    id: '55555555-5555-4555-8555-555555555555',
    agent_id: AGENT,
    status,
    droplet_id: status === 'pending_creation' ? null : 501000001,
    name: 'berth-agent',
    ip_address: status === 'active' ? '127.0.0.2' : null,
    ssh_port: 2222,
    ssh_user: 'root',
    ssh_key_fingerprints: [],
    used_fallback_keys: false,
    login_access: 'live',
    error_message: null,
    created_at: '2026-01-02T03:04:05.000Z',
    updated_at: '2026-01-02T03:04:05.000Z',
    ...extra,
  };
}

describe('useToolEnvironment', () => {
  it("treats berth's 404 as no environment, and does not poll it", async () => {
    const berth = fakeBerth({
      'GET /api/agents/{id}/tool-environment': () => problem(404, 'not-found', 'Tool environment not found'),
    });
    const { result } = renderHook(() => useToolEnvironment(AGENT, { pollMs: 20 }), {
      wrapper: wrapperFor(testClient(berth.fetch)),
    });
    await waitFor(() => expect(result.current.query.isSuccess).toBe(true));
    expect(result.current.environment).toBeNull();
    await new Promise((r) => setTimeout(r, 100));
    expect(berth.calls('GET', PATH)).toHaveLength(1);
  });

  it('follows a deploy from pending_creation through creating to active, then polls slowly', async () => {
    const states = ['creating', 'creating', 'active'];
    let deployed = false;
    // berth keeps the environment queued until the test has seen it queued, as it would
    // until the deploy's job starts; see the wait for 'pending_creation' below.
    let queued = true;
    let polled = 0;
    const berth = fakeBerth({
      'GET /api/agents/{id}/tool-environment': () =>
        deployed
          ? json({
              environment: queued
                ? environment('pending_creation')
                : environment(states[Math.min(polled++, states.length - 1)] as string),
            })
          : problem(404, 'not-found', 'Tool environment not found'),
      'POST /api/agents/{id}/tool-environment': () => {
        deployed = true;
        return json({ environment: environment('pending_creation') }, 202);
      },
    });
    const { result } = renderHook(() => useToolEnvironment(AGENT, { pollMs: 20 }), {
      wrapper: wrapperFor(testClient(berth.fetch)),
    });
    await waitFor(() => expect(result.current.query.isSuccess).toBe(true));

    const seen: string[] = [];
    await act(async () => {
      await result.current.deploy.mutateAsync();
    });
    // Rendered on a later tick (see the tear-down test). When that render lands after act(),
    // waitFor's next look is 50 ms on, after the first poll (20 ms on): were that poll to
    // answer 'creating', the test would never see 'pending_creation'. So polls answer
    // 'pending_creation' until the test has seen it, and only then does the deploy move on.
    await waitFor(() => expect(result.current.environment?.status).toBe('pending_creation'));
    queued = false;
    await waitFor(() => {
      const s = result.current.environment?.status;
      if (s && seen.at(-1) !== s) seen.push(s);
      expect(s).toBe('active');
    });
    expect(seen[0]).toBe('pending_creation');
    expect(berth.calls('GET', PATH).length).toBeGreaterThanOrEqual(1 + states.length);
    expect(result.current.environment?.ip_address).toBe('127.0.0.2');
    expect(berth.calls('POST', PATH)).toHaveLength(1);

    // Active polls at fifteen times the interval: nothing within four fast intervals. The
    // window is kept short so that it ends well before the slow poll (300 ms after the
    // last), even when waitFor saw 'active' late.
    const asked = berth.calls('GET', PATH).length;
    await new Promise((r) => setTimeout(r, 80));
    expect(berth.calls('GET', PATH).length).toBe(asked);
  });

  it('tears down and shows the environment as being deleted', async () => {
    const berth = fakeBerth({
      'GET /api/agents/{id}/tool-environment': () => json({ environment: environment('active') }),
      'DELETE /api/agents/{id}/tool-environment': () =>
        json({ environment: environment('pending_deletion') }, 202),
    });
    const { result } = renderHook(() => useToolEnvironment(AGENT, { pollMs: 10_000 }), {
      wrapper: wrapperFor(testClient(berth.fetch)),
    });
    await waitFor(() => expect(result.current.environment?.status).toBe('active'));
    await act(async () => {
      await result.current.teardown.mutateAsync();
    });
    // TanStack Query tells components of a change on a later tick, so the render that
    // shows the answer may come after the mutation's promise settles.
    await waitFor(() => expect(result.current.environment?.status).toBe('pending_deletion'));
    expect(berth.calls('DELETE', PATH)).toHaveLength(1);
  });

  it('keeps the tear-down’s answer when a poll sent before it answers after it', async () => {
    let slow: (() => void) | null = null;
    let gets = 0;
    const berth = fakeBerth({
      'GET /api/agents/{id}/tool-environment': async () => {
        // The second GET (the poll below) is answered only once the tear-down has been.
        if (gets++ === 1) await new Promise<void>((resolve) => (slow = resolve));
        return json({ environment: environment('active') });
      },
      'DELETE /api/agents/{id}/tool-environment': () =>
        json({ environment: environment('pending_deletion') }, 202),
    });
    const { result } = renderHook(() => useToolEnvironment(AGENT, { pollMs: 10_000 }), {
      wrapper: wrapperFor(testClient(berth.fetch)),
    });
    await waitFor(() => expect(result.current.environment?.status).toBe('active'));
    void result.current.query.refetch();
    await waitFor(() => expect(slow).not.toBeNull());
    await act(async () => {
      await result.current.teardown.mutateAsync();
    });
    await waitFor(() => expect(result.current.environment?.status).toBe('pending_deletion'));
    // The poll's late answer ('active') must not take the tear-down's place.
    (slow as unknown as () => void)();
    // Time for the late answer to land and be rendered, were it still to be stored.
    await new Promise((r) => setTimeout(r, 50));
    expect(result.current.environment?.status).toBe('pending_deletion');
  });
});
