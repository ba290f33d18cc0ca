/**
 * The signed-in user's SSH keys: the list, and generating, importing, deleting and the
 * one-time private key download. Every change refreshes the list. The private key
 * download saves the file through `saveFile` (the browser's download by default) and
 * hands nothing back but its name, so the key is never kept in the UI's state.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type KeyAlgorithm, type SshKey, unwrap } from '../api/client.ts';
import { useApi } from '../api/context.tsx';
import { fileNameFrom, type SaveFile, saveTextFile } from '../lib/download.ts';
import { privateKeyFileName } from '../lib/ssh.ts';

export const SSH_KEYS_QUERY = ['ssh-keys'] as const;

export interface GenerateKeyInput {
  name: string;
  algorithm?: KeyAlgorithm;
}

export interface ImportKeyInput {
  name: string;
  public_key: string;
}

export function useSSHKeys(options: { saveFile?: SaveFile } = {}) {
  const api = useApi();
  const queryClient = useQueryClient();
  const saveFile = options.saveFile ?? saveTextFile;
  const refresh = () => queryClient.invalidateQueries({ queryKey: SSH_KEYS_QUERY });

  const query = useQuery({
    queryKey: SSH_KEYS_QUERY,
    queryFn: async () => (await unwrap(api.GET('/api/ssh-keys'))).keys,
  });

  const generate = useMutation({
    mutationFn: (input: GenerateKeyInput) => unwrap(api.POST('/api/ssh-keys', { body: input })),
    onSuccess: refresh,
  });

  const importKey = useMutation({
    mutationFn: async (input: ImportKeyInput) =>
      (await unwrap(api.POST('/api/ssh-keys/import', { body: input }))).key,
    onSuccess: refresh,
  });

  const remove = useMutation({
    mutationFn: (key: SshKey) =>
      unwrap(api.DELETE('/api/ssh-keys/{id}', { params: { path: { id: key.id } } })),
    onSuccess: refresh,
  });

  const downloadPrivateKey = useMutation({
    mutationFn: async (key: SshKey) => {
      const call = api.GET('/api/ssh-keys/{id}/private-key', {
        params: { path: { id: key.id } },
        parseAs: 'text',
      });
      const text = await unwrap(call);
      const { response } = await call;
      const fileName = fileNameFrom(response.headers.get('content-disposition'), privateKeyFileName(key));
      saveFile(fileName, text);
      return { fileName };
    },
    // Downloaded or gone (410), the key's "available" flag has changed either way.
    onSettled: refresh,
  });

  return {
    keys: query.data ?? [],
    query,
    generate,
    importKey,
    remove,
    downloadPrivateKey,
  };
}
