import { renderHook, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { fakeBerth, json, keyFixture, testClient, wrapperFor } from '../test/harness.tsx';
import { useSSHKeys } from './useSSHKeys.ts';
import { onboardingStep, useUserOnboarding } from './useUserOnboarding.ts';

const status = (state: string, error: string | null = null) =>
  json({ status: state, error, key_id: state === 'ready' ? keyFixture().id : null, updated_at: null });

describe('useUserOnboarding', () => {
  it('polls while the key is being made and registered, stops once ready, and refreshes the keys', async () => {
    const answers = ['pending', 'generating', 'registering', 'ready'];
    let served = 0;
    const berth = fakeBerth({
      'GET /api/onboarding': () => status(answers[Math.min(served++, answers.length - 1)] as string),
      'GET /api/ssh-keys': () => json({ keys: served >= answers.length ? [keyFixture()] : [] }),
    });
    const { result } = renderHook(
      () => ({ onboarding: useUserOnboarding({ pollMs: 20 }), keys: useSSHKeys() }),
      {
        wrapper: wrapperFor(testClient(berth.fetch)),
      },
    );

    await waitFor(() => expect(result.current.onboarding.isReady).toBe(true));
    // It got there by asking again, once per state berth went through.
    expect(berth.calls('GET', '/api/onboarding').length).toBeGreaterThanOrEqual(answers.length);
    expect(result.current.onboarding.keyId).toBe(keyFixture().id);
    // The key made during onboarding shows without the user asking.
    await waitFor(() => expect(result.current.keys.keys.map((k) => k.name)).toEqual(['default']));

    const asked = berth.calls('GET', '/api/onboarding').length;
    await new Promise((r) => setTimeout(r, 120));
    expect(berth.calls('GET', '/api/onboarding').length).toBe(asked);
  });

  it("reports a failure in berth's words and stops asking", async () => {
    const berth = fakeBerth({
      'GET /api/onboarding': () =>
        status('failed', 'DigitalOcean refused the key: the account has reached its key limit.'),
    });
    const { result } = renderHook(() => useUserOnboarding({ pollMs: 20 }), {
      wrapper: wrapperFor(testClient(berth.fetch)),
    });
    await waitFor(() => expect(result.current.isFailed).toBe(true));
    expect(result.current.error).toBe('DigitalOcean refused the key: the account has reached its key limit.');
    await new Promise((r) => setTimeout(r, 100));
    expect(berth.calls('GET', '/api/onboarding')).toHaveLength(1);
  });

  it('places each state on the steps the user sees', () => {
    expect(
      [undefined, 'pending', 'generating', 'registering', 'ready'].map((s) => onboardingStep(s as never)),
    ).toEqual([0, 0, 0, 1, 2]);
  });
});
