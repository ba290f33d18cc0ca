/**
 * Turns stored records into the exact JSON DigitalOcean sends for them. A droplet has
 * no addresses while it is `new`, as on the real API, so clients must wait for
 * `active` before they can learn where to connect; after that its public IPv4 is the
 * loopback address its SSH server listens on, beside a private VPC address.
 */
import { isoTime } from './http.ts';
import type { ActionRecord, DropletRecord, KeyRecord } from './state.ts';

export function keyView(key: KeyRecord): Record<string, unknown> {
  return { id: key.id, fingerprint: key.fingerprint, public_key: key.public_key, name: key.name };
}

export function dropletView(d: DropletRecord): Record<string, unknown> {
  const features = ['droplet_agent', 'private_networking'];
  if (d.ipv6) features.push('ipv6');
  if (d.monitoring) features.push('monitoring');
  return {
    id: d.id,
    name: d.name,
    memory: d.size.memory,
    vcpus: d.size.vcpus,
    disk: d.size.disk,
    disk_info: [{ type: 'local', size: { amount: d.size.disk, unit: 'gib' } }],
    locked: false,
    status: d.status,
    kernel: null,
    created_at: isoTime(d.createdAt),
    features,
    backup_ids: [],
    next_backup_window: null,
    snapshot_ids: [],
    image: d.image,
    volume_ids: [],
    size: d.size,
    size_slug: d.size.slug,
    networks: d.status === 'new' ? { v4: [], v6: [] } : networks(d),
    region: d.region,
    tags: d.tags,
    vpc_uuid: d.vpcUuid,
  };
}

function networks(d: DropletRecord): { v4: unknown[]; v6: unknown[] } {
  const v4 = [
    {
      ip_address: `10.110.${Math.floor(d.id / 250) % 16}.${(d.id % 250) + 2}`,
      netmask: '255.255.240.0',
      // DigitalOcean really does send this string for private interfaces.
      gateway: '<nil>',
      type: 'private',
    },
    {
      ip_address: d.address,
      netmask: d.netmask ?? '255.0.0.0',
      gateway: d.gateway ?? '127.0.0.1',
      type: 'public',
    },
  ];
  const v6 = d.ipv6
    ? [
        {
          ip_address: `2604:a880:400:d1::${d.id.toString(16)}`,
          netmask: 64,
          gateway: '2604:a880:400:d1::1',
          type: 'public',
        },
      ]
    : [];
  return { v4, v6 };
}

export function actionView(a: ActionRecord): Record<string, unknown> {
  return {
    id: a.id,
    status: a.status,
    type: a.type,
    started_at: isoTime(a.startedAt),
    completed_at: a.completedAt === null ? null : isoTime(a.completedAt),
    resource_id: a.resourceId,
    resource_type: 'droplet',
    region: a.region,
    region_slug: a.region.slug,
  };
}

export function actionLink(baseUrl: string, a: ActionRecord): { id: number; rel: string; href: string } {
  return { id: a.id, rel: a.type, href: `${baseUrl}/v2/actions/${a.id}` };
}
