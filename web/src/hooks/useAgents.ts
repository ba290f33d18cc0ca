/** The signed-in user's agents: the list, creating one and deleting one. */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type Agent, unwrap } from '../api/client.ts';
import { useApi } from '../api/context.tsx';

export const AGENTS_QUERY = ['agents'] as const;

export function useAgents() {
  const api = useApi();
  const queryClient = useQueryClient();
  const refresh = () => queryClient.invalidateQueries({ queryKey: AGENTS_QUERY });

  const query = useQuery({
    queryKey: AGENTS_QUERY,
    queryFn: async () => (await unwrap(api.GET('/api/agents'))).agents,
  });

  const create = useMutation({
    mutationFn: async (name: string) => (await unwrap(api.POST('/api/agents', { body: { name } }))).agent,
    onSuccess: refresh,
  });

  const remove = useMutation({
    mutationFn: (agent: Agent) =>
      unwrap(api.DELETE('/api/agents/{id}', { params: { path: { id: agent.id } } })),
    onSuccess: refresh,
  });

  return { agents: query.data ?? [], query, create, remove };
}
