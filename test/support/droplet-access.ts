/**
 * Helpers for tests of droplets' login checks: a deploy that returns the droplet's
 * credential (read from the user_data the emulator received, as the droplet would read
 * it), and a call to the droplet API as the login check makes it.
 */
import { parse } from 'yaml';
import { AUTHORIZED_KEYS_PATH, LOGIN_CHECK_CREDENTIAL } from '../../src/domain/environments/login-check.ts';
import type { ToolEnvironment } from '../../src/services/contracts.ts';
import { eventually, type Stack } from './environments.ts';

export interface Deployed {
  userId: string;
  agentId: string;
  env: ToolEnvironment;
  credential: string;
  publicKey: string;
}

/** The droplet credential in a user_data (the curl header line the login check sends). */
export function credentialIn(userData: string | undefined): string {
  const files = (parse(userData ?? '') as { write_files?: { path: string; content: string }[] }).write_files;
  const line = files?.find((f) => f.path === LOGIN_CHECK_CREDENTIAL)?.content ?? '';
  return /^Authorization: Bearer (\S+)\n$/.exec(line)?.[1] ?? '';
}

export async function deployWithCredential(s: Stack, timeoutMs = 30_000): Promise<Deployed> {
  const userId = await s.t.createUser();
  const agentId = await s.createAgent(userId);
  await s.environments.service.ensureToolEnvironmentReady(agentId, userId);
  const env = await eventually(async () => {
    const got = await s.environments.service.getToolEnvironment(agentId, userId);
    if (got?.status === 'error_creation') throw new Error(`deploy failed: ${got.errorMessage}`);
    return got?.status === 'active' ? got : null;
  }, timeoutMs);
  const droplet = s.emulator.state.droplets.get(env.dropletId!);
  const [key] = await s.sshKeys.getUserSSHKeys(userId);
  return { userId, agentId, env, credential: credentialIn(droplet?.userData), publicKey: key!.publicKey };
}

export async function lookup(url: string, credential: string | null, user = 'agent') {
  const response = await fetch(`${url}${AUTHORIZED_KEYS_PATH}?user=${user}`, {
    headers: credential === null ? {} : { authorization: `Bearer ${credential}` },
  });
  return { status: response.status, body: await response.text(), headers: response.headers };
}
