/**
 * The network of real-host droplets: each droplet has its own network namespace, joined to
 * the machine by a veth pair on a /30 of the emulator's own address range, and nothing
 * else. There is no default route and no NAT, so a droplet reaches only its host-side
 * address (where the emulator answers its metadata requests and where services on the
 * machine can be offered to droplets) and nothing beyond the machine. Inside the
 * namespace, `169.254.169.254:80`, DigitalOcean's metadata address, is rewritten to the
 * host-side address, which is where the emulator listens for that droplet.
 *
 * Subnets are claimed machine-wide without a registry: interface names in the machine's
 * namespace are unique, so creating the host-side interface `bk<index>` either succeeds
 * (the subnet is ours) or fails with "File exists" (another emulator, maybe in another
 * process, holds it) and the next index is tried. Namespaces are named after their
 * owner's pid, so an emulator that was killed can be recognised and cleaned up after.
 */
import { randomInt } from 'node:crypto';
import { intToIpv4, ipv4ToInt } from '../state.ts';
import { CommandError, run } from './exec.ts';

/**
 * RFC 2544's benchmarking range, 198.18.0.0/15: reserved, never routed on the internet,
 * so no address a droplet is given can be anybody's. One constant, used everywhere.
 */
export const HOST_NETWORK = { base: '198.18.0.0', prefix: 15 } as const;
/**
 * Where droplets reach services the machine offers them (berth's droplet API), as a
 * DigitalOcean droplet reaches a service on the internet: one address for every droplet,
 * held on the machine's loopback interface and routed to from each droplet through its
 * link. It is subnet 0's host side, and subnet 0 is never handed out.
 */
export const MACHINE_ADDRESS = '198.18.0.1';
/** DigitalOcean's metadata address, as droplets see it. */
export const METADATA_ADDRESS = '169.254.169.254';
/** Every namespace this emulator creates starts with this, then `<owner pid>-<emulator id>-`. */
export const NETNS_PREFIX = 'berth-do-';

const SUBNETS = 2 ** (32 - HOST_NETWORK.prefix) / 4;

export interface DropletNetwork {
  namespace: string;
  /** Host-side interface, `bk<index>`. */
  hostInterface: string;
  /** The emulator's side of the link: metadata service, gateway. */
  hostAddress: string;
  /** The droplet's public IPv4, on its `eth0`. */
  address: string;
  netmask: string;
  mac: string;
}

export function subnetAddresses(index: number): { host: string; droplet: string } {
  const base = ipv4ToInt(HOST_NETWORK.base) + index * 4;
  return { host: intToIpv4(base + 1), droplet: intToIpv4(base + 2) };
}

export function namespaceName(ownerPid: number, emulatorId: string, dropletId: number): string {
  return `${NETNS_PREFIX}${ownerPid}-${emulatorId}-${dropletId}`;
}

/** The owner pid a namespace name records, or undefined when the name is not one of ours. */
export function namespaceOwner(name: string): number | undefined {
  const match = new RegExp(`^${NETNS_PREFIX}(\\d+)-`).exec(name);
  return match ? Number(match[1]) : undefined;
}

/** A locally administered MAC derived from the subnet, stable for the droplet's life. */
function macFor(index: number): string {
  const bytes = [0x06, 0x01, 0xbe, (index >> 16) & 0xff, (index >> 8) & 0xff, index & 0xff];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/**
 * Creates the droplet's namespace and link and configures both ends. The search starts at
 * a random index so emulators starting together rarely race for the same subnet.
 */
export async function createDropletNetwork(namespace: string): Promise<DropletNetwork> {
  await run('ip', ['netns', 'add', namespace]);
  try {
    const start = randomInt(SUBNETS);
    for (let tried = 0; tried < SUBNETS - 1; tried++) {
      // Subnet 0 holds MACHINE_ADDRESS.
      const index = 1 + ((start + tried) % (SUBNETS - 1));
      const hostInterface = `bk${index}`;
      const mac = macFor(index);
      try {
        await run('ip', [
          'link',
          'add',
          hostInterface,
          'type',
          'veth',
          'peer',
          'name',
          'eth0',
          'address',
          mac,
          'netns',
          namespace,
        ]);
      } catch (err) {
        if (err instanceof CommandError && /File exists/.test(err.stderr)) continue;
        throw err;
      }
      const { host, droplet } = subnetAddresses(index);
      await configure(namespace, hostInterface, host, droplet);
      return {
        namespace,
        hostInterface,
        hostAddress: host,
        address: droplet,
        netmask: '255.255.255.252',
        mac,
      };
    }
    throw new Error(`no free subnet left in ${HOST_NETWORK.base}/${HOST_NETWORK.prefix}`);
  } catch (err) {
    await removeNamespace(namespace);
    throw err;
  }
}

async function configure(namespace: string, hostInterface: string, host: string, droplet: string) {
  await run('ip', ['addr', 'add', `${host}/30`, 'dev', hostInterface]);
  await run('ip', ['link', 'set', hostInterface, 'up']);
  // One batch for the namespace side: loopback, eth0, and the one route beyond the link.
  await run('ip', ['-n', namespace, '-batch', '-'], {
    input: [
      'link set lo up',
      `addr add ${droplet}/30 dev eth0`,
      'link set eth0 up',
      `route add ${METADATA_ADDRESS}/32 via ${host} dev eth0`,
      `route add ${MACHINE_ADDRESS}/32 via ${host} dev eth0`,
      '',
    ].join('\n'),
  });
  await run('nsenter', [`--net=/run/netns/${namespace}`, 'nft', '-f', '-'], {
    input: [
      'table ip metadata {',
      '  chain output {',
      '    type nat hook output priority -100;',
      `    ip daddr ${METADATA_ADDRESS} tcp dport 80 dnat to ${host}:80`,
      '  }',
      '}',
      '',
    ].join('\n'),
  });
}

/**
 * Makes the whole range unreachable on the machine except through droplets' links (whose
 * /30 routes are more specific), so a packet for an address no droplet holds (one just
 * destroyed, say) fails at once instead of following the machine's default route out.
 * The route is shared by every emulator on the machine and left in place: removing it
 * while another emulator runs would reopen that path, and it routes nothing of anyone's.
 */
export async function ensureRangeStaysLocal(): Promise<void> {
  const range = `${HOST_NETWORK.base}/${HOST_NETWORK.prefix}`;
  for (const args of [
    ['route', 'add', 'unreachable', range],
    // The machine's own address for droplets, left in place like the route.
    ['addr', 'add', `${MACHINE_ADDRESS}/32`, 'dev', 'lo'],
  ]) {
    try {
      await run('ip', args);
    } catch (err) {
      // A second add answers "File exists" for a route, "Address already assigned" for an address.
      if (!(err instanceof CommandError && /File exists|already assigned/.test(err.stderr))) throw err;
    }
  }
}

/** Deletes a namespace; its veth pair goes with it once no process is left inside. */
export async function removeNamespace(namespace: string): Promise<void> {
  try {
    await run('ip', ['netns', 'delete', namespace]);
  } catch (err) {
    if (!(err instanceof CommandError && /No such file|not found|Invalid/.test(err.stderr))) throw err;
  }
}

/** Pids of processes still inside a namespace (as the machine numbers them). */
export async function namespacePids(namespace: string): Promise<number[]> {
  try {
    const { stdout } = await run('ip', ['netns', 'pids', namespace]);
    return stdout
      .split('\n')
      .filter((l) => /^\d+$/.test(l.trim()))
      .map(Number);
  } catch {
    return [];
  }
}

export async function listNamespaces(): Promise<string[]> {
  const { stdout } = await run('ip', ['netns', 'list']);
  return stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n.startsWith(NETNS_PREFIX));
}
