/**
 * What the environment services need from the outside world, narrowed to exactly that:
 * a few DigitalOcean droplet calls (the production client and the local emulator's
 * client both satisfy it) and the droplet settings an operator chooses.
 */
import { type Droplet, type DropletCreateRequest, isValidTag } from '../../digitalocean/client/index.ts';

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
}

export interface DropletSettings {
  region: string;
  size: string;
  image: string;
  /** Where users SSH to: 22 (DigitalOcean, the emulator's real hosts), or its light droplets' port. */
  sshPort: number;
  sshUser: string;
  installDocker: boolean;
}

/**
 * The tag every berth droplet carries, of every installation. Since installations have
 * ids the reconciler lists by the installation's own tag; it lists this one only to find
 * the droplets made before then, which carry no installation tag.
 */
export const BERTH_TAG = 'berth';

export const INSTALLATION_TAG_PREFIX = 'berth-install:';

/** The tag of one installation's droplets: `berth-install:<id>`, the id from its database. */
export function installationTagFor(installationId: string): string {
  const tag = `${INSTALLATION_TAG_PREFIX}${installationId}`;
  if (!/^[A-Za-z0-9_-]{8,64}$/.test(installationId) || !isValidTag(tag)) {
    throw new TypeError(`"${installationId}" cannot be an installation id in a DigitalOcean tag`);
  }
  return tag;
}

/**
 * Whose droplet this is, by its tags: this installation's (it carries `installationTag`),
 * another's (it carries another installation's tag), or made before installations had
 * ids (`legacy`: it carries none, and may be anyone's).
 */
export function ownerOf(droplet: Droplet, installationTag: string): 'this' | 'other' | 'legacy' {
  const tags = droplet.tags ?? [];
  if (tags.includes(installationTag)) return 'this';
  return tags.some((t) => t.startsWith(INSTALLATION_TAG_PREFIX)) ? 'other' : 'legacy';
}

export function publicIpv4(droplet: Droplet): string | null {
  const v4 = droplet.networks?.v4 ?? [];
  return v4.find((n) => n.type === 'public')?.ip_address ?? null;
}
