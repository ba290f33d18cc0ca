/**
 * Where the user's onboarding stands: berth generates their default SSH key and registers
 * it with DigitalOcean in the background after sign-up. Polled until it settles (ready or
 * failed); when it becomes ready the key list is refreshed so the new key shows at once.
 */
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef } from 'react';
import { type OnboardingStatus, unwrap } from '../api/client.ts';
import { useApi } from '../api/context.tsx';
import { SSH_KEYS_QUERY } from './useSSHKeys.ts';

export const ONBOARDING_QUERY = ['onboarding'] as const;

export type OnboardingState = OnboardingStatus['status'];

/** The steps shown to the user, in order, and which one each state is at. */
export const ONBOARDING_STEPS = [
  { id: 'generating', label: 'Generating your SSH key' },
  { id: 'registering', label: 'Registering it with DigitalOcean' },
  { id: 'ready', label: 'Ready to deploy' },
] as const;

export function onboardingStep(state: OnboardingState | undefined): number {
  if (state === 'registering') return 1;
  if (state === 'ready') return 2;
  return 0;
}

const settled = (state: OnboardingState | undefined) => state === 'ready' || state === 'failed';

export function useUserOnboarding(options: { pollMs?: number } = {}) {
  const api = useApi();
  const queryClient = useQueryClient();
  const pollMs = options.pollMs ?? 1000;
  const query = useQuery({
    queryKey: ONBOARDING_QUERY,
    queryFn: () => unwrap(api.GET('/api/onboarding')),
    refetchInterval: (q) => (settled(q.state.data?.status) ? false : pollMs),
  });
  const status = query.data?.status;

  const previous = useRef(status);
  useEffect(() => {
    if (status === 'ready' && previous.current !== 'ready') {
      void queryClient.invalidateQueries({ queryKey: SSH_KEYS_QUERY });
    }
    previous.current = status;
  }, [status, queryClient]);

  return {
    query,
    status,
    /** Why it failed, in berth's words; null unless failed. */
    error: query.data?.error ?? null,
    keyId: query.data?.key_id ?? null,
    isReady: status === 'ready',
    isFailed: status === 'failed',
    step: onboardingStep(status),
  };
}
