/**
 * What the environment services need from the outside world, narrowed to exactly that:
 * a few DigitalOcean droplet calls (the production client and the local emulator's
 * client both satisfy it) and the droplet settings an operator chooses.
 */
import type { Droplet, DropletCreateRequest } from '../../digitalocean/client/index.ts';

export type Priority = 'deploy' | 'background';

/** How a call is made: who waits for it, and the request or job it serves (for its log lines). */
export interface CallContext {
  priority?: Priority;
  requestId?: string;
}

export interface DropletApi {
  createDroplet(
    request: DropletCreateRequest,
    options?: CallContext & { freshTag?: boolean },
  ): Promise<{ droplet: Droplet; adopted: boolean }>;
  listDropletsByTag(tag: string, options?: CallContext): Promise<Droplet[]>;
  deleteDroplet(id: number, options?: CallContext): Promise<boolean>;
  deleteDropletsByTag(tag: string, options?: CallContext): Promise<boolean>;
}

export interface DropletSettings {
  region: string;
  size: string;
  image: string;
  /** Where users SSH to: 22 on DigitalOcean, the emulator's port locally. */
  sshPort: number;
  sshUser: string;
  installDocker: boolean;
}

/** The tag every berth droplet carries, which the reconciler lists. */
export const BERTH_TAG = 'berth';

export function publicIpv4(droplet: Droplet): string | null {
  const v4 = droplet.networks?.v4 ?? [];
  return v4.find((n) => n.type === 'public')?.ip_address ?? null;
}
