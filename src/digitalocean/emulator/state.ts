/**
 * Everything the emulator remembers: SSH keys, droplets and actions, held in memory
 * for the life of one emulator and nowhere else. This module only stores records and
 * hands out ids and loopback addresses; what the API does with them lives in the
 * routes, and how droplets move from `new` to `active` lives in the lifecycle.
 */
import type { ImageInfo, RegionInfo, SizeInfo } from './catalog.ts';

export type DropletStatus = 'new' | 'active' | 'off' | 'archive';
export type ActionStatus = 'in-progress' | 'completed' | 'errored';

export interface KeyRecord {
  id: number;
  fingerprint: string;
  public_key: string;
  name: string;
}

export interface DropletRecord {
  id: number;
  name: string;
  region: RegionInfo;
  size: SizeInfo;
  image: ImageInfo;
  tags: string[];
  userData: string | undefined;
  ipv6: boolean;
  monitoring: boolean;
  vpcUuid: string;
  status: DropletStatus;
  /** Clock time (ms) of creation. */
  createdAt: number;
  /**
   * The droplet's public IPv4: a loopback address for a light droplet; for a real host,
   * the address its network namespace was given at first boot.
   */
  address: string;
  /** The public network's mask and gateway, set by a real host's boot. */
  netmask?: string;
  gateway?: string;
  /** Public key lines root accepts, fixed at creation exactly as on a real droplet. */
  authorizedKeys: string[];
  /** Why the droplet's SSH server could not start, if it could not. */
  sshError?: string;
}

export interface ActionRecord {
  id: number;
  type: string;
  status: ActionStatus;
  startedAt: number;
  completedAt: number | null;
  /** Clock time (ms) at which the lifecycle completes this action. */
  dueAt: number;
  resourceId: number;
  region: RegionInfo;
  /** Action arguments the lifecycle needs when it completes the action (e.g. a new name). */
  params: Record<string, unknown>;
}

export interface AddressRange {
  /** First loopback address handed out, e.g. `127.0.0.2`. */
  first: string;
  /** How many consecutive addresses to cycle through. */
  count: number;
}

export class EmulatorState {
  readonly keys = new Map<number, KeyRecord>();
  readonly droplets = new Map<number, DropletRecord>();
  readonly actions = new Map<number, ActionRecord>();
  private nextKeyId = 41_000_001;
  private nextDropletId = 501_000_001;
  private nextActionId = 2_100_000_001;
  private addressCursor = 0;
  private readonly firstAddress: number;

  private readonly addresses: AddressRange;

  constructor(addresses: AddressRange) {
    this.addresses = addresses;
    this.firstAddress = ipv4ToInt(addresses.first);
  }

  newKeyId(): number {
    return this.nextKeyId++;
  }

  newDropletId(): number {
    return this.nextDropletId++;
  }

  newActionId(): number {
    return this.nextActionId++;
  }

  /** Keys are addressed by numeric id or by fingerprint, as in DigitalOcean's API. */
  findKey(identifier: string | number): KeyRecord | undefined {
    const text = String(identifier);
    if (/^\d+$/.test(text)) return this.keys.get(Number(text));
    for (const key of this.keys.values()) if (key.fingerprint === text) return key;
    return undefined;
  }

  /**
   * `count` loopback addresses not held by a live droplet, or undefined when there are
   * not that many free. The range is walked cyclically, so a deleted droplet's address
   * is reused only after the others have had their turn.
   */
  allocateAddresses(count: number): string[] | undefined {
    const used = new Set([...this.droplets.values()].map((d) => d.address));
    const picked: string[] = [];
    let cursor = this.addressCursor;
    for (let tried = 0; tried < this.addresses.count && picked.length < count; tried++) {
      const candidate = intToIpv4(this.firstAddress + cursor);
      cursor = (cursor + 1) % this.addresses.count;
      if (!used.has(candidate)) picked.push(candidate);
    }
    if (picked.length < count) return undefined;
    this.addressCursor = cursor;
    return picked;
  }

  /** Forgets every key, droplet and action; ids keep counting up so stale ids never come back. */
  clear(): void {
    this.keys.clear();
    this.droplets.clear();
    this.actions.clear();
    this.addressCursor = 0;
  }
}

export function ipv4ToInt(address: string): number {
  const parts = address.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new Error(`not an IPv4 address: ${address}`);
  }
  return parts.reduce((acc, p) => acc * 256 + p, 0);
}

export function intToIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}
