/**
 * Time in the emulator: a created droplet is `new` until `activeAfterMs` has passed on
 * the emulator's clock, then its SSH server starts and only after that does it turn
 * `active`, so an `active` droplet is always reachable. Droplet actions (power off,
 * reboot, ...) likewise take `activeAfterMs` to complete, and their effect lands when
 * they do. Progress is made by `advance()`, which the emulator calls before every
 * request and on a short timer; steps run one at a time so a droplet never starts twice.
 * A real host's boot takes seconds (cloud-init, sshd), so it runs beside the steps: the
 * action stays in progress, and the droplet `new` (or `off`), until sshd accepts
 * connections, and other droplets move on meanwhile.
 */
import type { SshHost } from './ssh/host.ts';
import type { ActionRecord, DropletRecord, EmulatorState } from './state.ts';

/** Droplet action types the emulator carries out; the others DigitalOcean has answer 422 here. */
export const SUPPORTED_ACTIONS = [
  'power_off',
  'power_on',
  'shutdown',
  'reboot',
  'power_cycle',
  'rename',
  'enable_ipv6',
] as const;

export interface LifecycleDeps {
  state: EmulatorState;
  clock: () => number;
  activeAfterMs: number;
  ssh: SshHost;
  onError?: (message: string) => void;
}

/** Actions that (re)boot a droplet; on real hosts they complete when the boot does. */
const BOOTS = new Set(['create', 'power_on', 'reboot', 'power_cycle']);

export class Lifecycle {
  private chain: Promise<void> = Promise.resolve();
  private readonly booting = new Set<number>();

  private readonly deps: LifecycleDeps;

  constructor(deps: LifecycleDeps) {
    this.deps = deps;
  }

  /** Records the `create` action of a droplet that was just stored. */
  recordCreate(droplet: DropletRecord): ActionRecord {
    return this.newAction(droplet, 'create', {});
  }

  /** Starts an action on a droplet, or says why DigitalOcean would refuse it. */
  startAction(
    droplet: DropletRecord,
    type: string,
    params: Record<string, unknown>,
  ): ActionRecord | { error: string } {
    const pending = [...this.deps.state.actions.values()].some(
      (a) => a.resourceId === droplet.id && a.status === 'in-progress',
    );
    if (pending) return { error: 'Droplet already has a pending event.' };
    if (!(SUPPORTED_ACTIONS as readonly string[]).includes(type)) {
      return { error: `The emulator does not carry out "${type}" actions.` };
    }
    if (type === 'rename' && typeof params.name !== 'string') return { error: 'Name is required.' };
    return this.newAction(droplet, type, params);
  }

  /** Completes every action whose time has come. Safe to call often and concurrently. */
  advance(): Promise<void> {
    return this.enqueue(() => this.step());
  }

  /**
   * Deletes a droplet: it leaves the API, its SSH server stops and a real host's files
   * and network go. Queued behind any step in progress, so a server that is still
   * starting cannot outlive its droplet (a real host's boot in progress is cut short).
   */
  destroy(droplet: DropletRecord): Promise<void> {
    return this.enqueue(async () => {
      const { state, ssh } = this.deps;
      state.droplets.delete(droplet.id);
      for (const action of state.actions.values()) {
        if (action.resourceId === droplet.id && action.status === 'in-progress') {
          action.status = 'errored';
          action.completedAt = this.deps.clock();
        }
      }
      await ssh.remove(droplet.id);
    });
  }

  /** Runs `task` after every earlier one; a failure reaches its caller but does not jam the queue. */
  private enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.chain.then(task);
    this.chain = run.catch(() => {});
    return run;
  }

  private newAction(droplet: DropletRecord, type: string, params: Record<string, unknown>): ActionRecord {
    const now = this.deps.clock();
    const action: ActionRecord = {
      id: this.deps.state.newActionId(),
      type,
      status: 'in-progress',
      startedAt: now,
      completedAt: null,
      dueAt: now + this.deps.activeAfterMs,
      resourceId: droplet.id,
      region: droplet.region,
      params,
    };
    this.deps.state.actions.set(action.id, action);
    return action;
  }

  private async step(): Promise<void> {
    const now = this.deps.clock();
    const due = [...this.deps.state.actions.values()]
      .filter((a) => a.status === 'in-progress' && a.dueAt <= now && !this.booting.has(a.id))
      .sort((a, b) => a.dueAt - b.dueAt);
    for (const action of due) {
      const droplet = this.deps.state.droplets.get(action.resourceId);
      if (droplet && this.deps.ssh.kind === 'real' && BOOTS.has(action.type)) {
        this.bootInBackground(droplet, action);
        continue;
      }
      if (droplet) await this.apply(droplet, action);
      action.status = droplet ? 'completed' : 'errored';
      action.completedAt = action.dueAt;
    }
  }

  private bootInBackground(droplet: DropletRecord, action: ActionRecord): void {
    this.booting.add(action.id);
    const boot = async () => {
      if (action.type === 'reboot' || action.type === 'power_cycle') await this.deps.ssh.stop(droplet.id);
      await this.startSsh(droplet);
    };
    void boot().finally(() =>
      this.enqueue(async () => {
        this.booting.delete(action.id);
        // Destroyed meanwhile: destroy() has already marked the action errored.
        if (action.status !== 'in-progress' || !this.deps.state.droplets.has(droplet.id)) return;
        droplet.status = 'active';
        action.status = 'completed';
        action.completedAt = this.deps.clock();
      }),
    );
  }

  private async apply(droplet: DropletRecord, action: ActionRecord): Promise<void> {
    switch (action.type) {
      case 'create':
      case 'power_on':
        await this.startSsh(droplet);
        droplet.status = 'active';
        break;
      case 'power_off':
      case 'shutdown':
        droplet.status = 'off';
        await this.deps.ssh.stop(droplet.id);
        break;
      case 'reboot':
      case 'power_cycle':
        await this.deps.ssh.stop(droplet.id);
        await this.startSsh(droplet);
        droplet.status = 'active';
        break;
      case 'rename':
        droplet.name = String(action.params.name);
        break;
      case 'enable_ipv6':
        droplet.ipv6 = true;
        break;
    }
  }

  private async startSsh(droplet: DropletRecord): Promise<void> {
    try {
      const started = await this.deps.ssh.start({
        id: droplet.id,
        name: droplet.name,
        address: droplet.address,
        authorizedKeys: droplet.authorizedKeys,
        userData: droplet.userData,
        region: droplet.region.slug,
        tags: droplet.tags,
      });
      if (started) {
        droplet.address = started.address;
        droplet.netmask = started.netmask;
        droplet.gateway = started.gateway;
      }
      delete droplet.sshError;
    } catch (err) {
      // The droplet still turns active, as a real one whose sshd failed would; the
      // reason is kept on the record and reported so the cause is not a mystery.
      droplet.sshError = err instanceof Error ? err.message : String(err);
      // A real host destroyed while it booted has nothing left to report.
      if (!this.deps.state.droplets.has(droplet.id)) return;
      this.deps.onError?.(
        `droplet ${droplet.id}: SSH server on ${droplet.address} failed: ${droplet.sshError}`,
      );
    }
  }
}
