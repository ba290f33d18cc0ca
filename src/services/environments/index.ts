/**
 * Builds the tool environment services from their parts, for the composition root: the
 * follower, the provisioner, the request-path service and the reconciler, each given only
 * what it uses.
 */
import type { Authz } from '../../db/authz.ts';
import type { Logger } from '../../observability/logger.ts';
import type { DeploymentKeyService } from '../deployment-keys.ts';
import { ToolEnvironmentService } from './environment-service.ts';
import { DropletFollower } from './follower.ts';
import { type DropletApi, type DropletSettings, installationTagFor } from './ports.ts';
import { type DeployObserver, Provisioner, type ProvisionerDeps } from './provisioner.ts';
import { Reconciler } from './reconciler.ts';

export interface EnvironmentModule {
  service: ToolEnvironmentService;
  reconciler: Reconciler;
  follower: DropletFollower;
  close(): Promise<void>;
}

export function createEnvironmentModule(deps: {
  authz: Authz;
  droplets: DropletApi;
  keys: DeploymentKeyService;
  settings: DropletSettings;
  logger: Logger;
  instanceId: string;
  /** This installation's id, from its database (`readInstallation`). */
  installationId: string;
  /** Live environments per user (0: no limit); the documented default when absent. */
  maxLiveEnvironmentsPerUser?: number;
  follow?: { firstDelayMs?: number; maxDelayMs?: number };
  leaseMs?: number;
  observer?: DeployObserver;
  /** Droplet credentials for the login check (droplet-access.ts). */
  access?: ProvisionerDeps['access'];
}): EnvironmentModule {
  const { authz, droplets, settings, logger } = deps;
  const installationTag = installationTagFor(deps.installationId);
  const follower = new DropletFollower({
    authz,
    droplets,
    sshPort: settings.sshPort,
    logger,
    ...deps.follow,
  });
  const provisioner = new Provisioner({
    authz,
    droplets,
    keys: deps.keys,
    follower,
    settings,
    logger,
    installationTag,
    observer: deps.observer,
    access: deps.access,
  });
  const service = new ToolEnvironmentService({
    authz,
    provisioner,
    settings,
    logger,
    instanceId: deps.instanceId,
    installationTag,
    maxLiveEnvironmentsPerUser: deps.maxLiveEnvironmentsPerUser,
  });
  const reconciler = new Reconciler({
    authz,
    droplets,
    provisioner,
    follower,
    sshPort: settings.sshPort,
    logger,
    installationTag,
    ...(deps.leaseMs !== undefined ? { leaseMs: deps.leaseMs } : {}),
  });
  return {
    service,
    reconciler,
    follower,
    async close() {
      await service.settled();
      await follower.close();
    },
  };
}
