/** Turns an environment record into what the API shows: an explicit list of fields. */
import type { EnvironmentRow } from '../../store/environments.ts';
import type { ToolEnvironment } from '../contracts.ts';

export function toView(row: EnvironmentRow, sshUser: string): ToolEnvironment {
  return {
    id: row.id,
    agentId: row.agentId,
    status: row.status,
    dropletId: row.dropletId,
    name: row.name,
    ipAddress: row.ipAddress,
    sshPort: row.sshPort,
    sshUser,
    sshKeyFingerprints: row.sshKeyFingerprints,
    usedFallbackKeys: row.usedFallbackKeys,
    loginAccess: row.loginAccess,
    errorMessage: row.errorMessage,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}
