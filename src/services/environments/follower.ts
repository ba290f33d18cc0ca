/**
 * Follows created droplets until DigitalOcean reports them `active`. Its cost does not
 * grow with the number of deploys: each round lists the droplets of a polling tag (one
 * call per tag, and the tags are coarse, so a burst of deploys shares one) instead of
 * getting each droplet, and rounds back off from one second to ten. It also keeps the
 * records it follows fresh, so no reconciler mistakes them for abandoned.
 */
import type { Authz } from '../../db/authz.ts';
import type { Logger } from '../../observability/logger.ts';
import { touch, transition } from '../../store/environments.ts';
import { type DropletApi, publicIpv4 } from './ports.ts';

export interface Followed {
  envId: string;
  dropletId: number;
  pollTag: string;
}

export interface FollowerOptions {
  authz: Authz;
  droplets: Pick<DropletApi, 'listDropletsByTag'>;
  sshPort: number;
  logger: Logger;
  firstDelayMs?: number;
  maxDelayMs?: number;
  /** A droplet not active after this long is given up on (its record goes to error_creation). */
  giveUpAfterMs?: number;
  onActive?: (envId: string) => void;
}

export class DropletFollower {
  private readonly followed = new Map<string, Followed & { since: number }>();
  private timer: NodeJS.Timeout | undefined;
  private round = 0;
  private running: Promise<void> | null = null;
  private closed = false;

  private readonly options: FollowerOptions;

  constructor(options: FollowerOptions) {
    this.options = options;
  }

  follow(item: Followed): void {
    if (this.closed) return;
    this.followed.set(item.envId, { ...item, since: Date.now() });
    if (!this.timer && !this.running) this.schedule();
  }

  get size(): number {
    return this.followed.size;
  }

  private schedule() {
    const first = this.options.firstDelayMs ?? 1000;
    const delay = Math.min(this.options.maxDelayMs ?? 10_000, first * 1.5 ** this.round);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.poll()
        .catch((error) => this.options.logger.warn({ err: error }, 'polling droplets failed; will retry'))
        .finally(() => {
          this.running = null;
          this.round++;
          if (this.followed.size > 0 && !this.closed) this.schedule();
          else this.round = 0;
        });
    }, delay);
    this.timer.unref?.();
  }

  /** One round: one list call per polling tag in use. */
  async poll(): Promise<void> {
    const { authz, droplets, sshPort } = this.options;
    const tags = new Set([...this.followed.values()].map((f) => f.pollTag));
    for (const tag of tags) {
      const list = await droplets.listDropletsByTag(tag, { priority: 'deploy' });
      const byId = new Map(list.map((d) => [d.id, d]));
      for (const item of [...this.followed.values()].filter((f) => f.pollTag === tag)) {
        const droplet = byId.get(item.dropletId);
        if (droplet?.status === 'active') {
          const ip = publicIpv4(droplet);
          const row = await authz.asService('follow: droplet active', (tx) =>
            transition(tx, item.envId, ['creating'], 'active', {
              ipAddress: ip,
              sshPort,
              activeAt: new Date(),
            }),
          );
          this.followed.delete(item.envId);
          if (row) this.options.onActive?.(item.envId);
        } else if (Date.now() - item.since > (this.options.giveUpAfterMs ?? 15 * 60_000)) {
          await authz.asService('follow: give up', (tx) =>
            transition(tx, item.envId, ['creating'], 'error_creation', {
              errorMessage: 'The droplet did not become active in time; deploy again or ask the operator.',
            }),
          );
          this.followed.delete(item.envId);
        }
      }
    }
    const still = [...this.followed.keys()];
    if (still.length) await authz.asService('follow: heartbeat', (tx) => touch(tx, still));
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
