/**
 * One agent's tool environment: its state, polled while it moves (queued, creating,
 * tearing down) so the UI follows a deploy to `active` without a reload, and the deploy
 * and tear-down actions. berth answers 404 when the agent has no live environment; that
 * is "none", not an error.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { ApiError, type ToolEnvironment, unwrap } from '../api/client.ts';
import { useApi } from '../api/context.tsx';
import { pollInterval } from '../lib/format.ts';

export const environmentQuery = (agentId: string) => ['tool-environment', agentId] as const;

export function useToolEnvironment(agentId: string, options: { pollMs?: number } = {}) {
  const api = useApi();
  const queryClient = useQueryClient();
  const key = environmentQuery(agentId);
  const params = { params: { path: { id: agentId } } };

  const query = useQuery({
    queryKey: key,
    queryFn: async (): Promise<ToolEnvironment | null> => {
      try {
        return (await unwrap(api.GET('/api/agents/{id}/tool-environment', params))).environment;
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) return null;
        throw error;
      }
    },
    refetchInterval: (q) => pollInterval(q.state.data?.status, options.pollMs),
  });

  // A poll sent before the deploy or tear-down and answered after it carries the state
  // from before, and would overwrite the answer the action just gave: back to `active`
  // after a tear-down, then polled at the slow rate. So a poll in flight is cancelled first.
  const settle = async (environment: ToolEnvironment) => {
    await queryClient.cancelQueries({ queryKey: key });
    queryClient.setQueryData(key, environment);
  };

  const deploy = useMutation({
    mutationFn: async () => (await unwrap(api.POST('/api/agents/{id}/tool-environment', params))).environment,
    onSuccess: settle,
  });

  const teardown = useMutation({
    mutationFn: async () =>
      (await unwrap(api.DELETE('/api/agents/{id}/tool-environment', params))).environment,
    onSuccess: settle,
  });

  const environment = query.data?.status === 'deleted' ? null : (query.data ?? null);
  return { query, environment, deploy, teardown };
}
