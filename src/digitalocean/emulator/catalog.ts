/**
 * The regions, sizes and images the emulator accepts when a droplet is created, and
 * the full objects it reports for them. DigitalOcean's catalogue changes over time;
 * this one holds the common slugs plus rules for the regular size and image slug
 * families, so that realistic requests succeed and obvious typos are refused with
 * DigitalOcean's own 422 messages.
 */

export interface RegionInfo {
  slug: string;
  name: string;
  features: string[];
  available: boolean;
  sizes: string[];
}

export interface SizeInfo {
  slug: string;
  memory: number;
  vcpus: number;
  disk: number;
  transfer: number;
  price_monthly: number;
  price_hourly: number;
  regions: string[];
  available: boolean;
  description: string;
}

export interface ImageInfo {
  id: number;
  name: string;
  distribution: string;
  slug: string | null;
  public: boolean;
  regions: string[];
  created_at: string;
  type: 'base' | 'snapshot';
  min_disk_size: number;
  size_gigabytes: number;
  description: string;
  tags: string[];
  status: 'available';
  error_message: string;
}

const REGION_NAMES: Record<string, string> = {
  nyc1: 'New York 1',
  nyc2: 'New York 2',
  nyc3: 'New York 3',
  sfo2: 'San Francisco 2',
  sfo3: 'San Francisco 3',
  ams3: 'Amsterdam 3',
  sgp1: 'Singapore 1',
  lon1: 'London 1',
  fra1: 'Frankfurt 1',
  tor1: 'Toronto 1',
  blr1: 'Bangalore 1',
  syd1: 'Sydney 1',
  atl1: 'Atlanta 1',
};

const SIZE_SLUGS = [
  's-1vcpu-512mb-10gb',
  's-1vcpu-1gb',
  's-1vcpu-2gb',
  's-2vcpu-2gb',
  's-2vcpu-4gb',
  's-4vcpu-8gb',
  's-8vcpu-16gb',
];

/** Size slugs look like `s-2vcpu-4gb` or `g-2vcpu-8gb`, optionally with a suffix such as `-intel`. */
const SIZE_PATTERN = /^(s|c|c2|g|gd|m|m3|so|so1_5)-(\d+)vcpu-(\d+)(gb|mb)(-\d+gb)?(-intel|-amd)?$/;
/** Public image slugs look like `ubuntu-24-04-x64` or `debian-12-x64`. */
const IMAGE_PATTERN = /^([a-z]+)-[0-9a-z-]+-x64$/;

const DISTRIBUTIONS: Record<string, string> = {
  ubuntu: 'Ubuntu',
  debian: 'Debian',
  fedora: 'Fedora',
  centos: 'CentOS',
  rockylinux: 'Rocky Linux',
  almalinux: 'Unknown',
};

export function findRegion(slug: string): RegionInfo | undefined {
  const name = REGION_NAMES[slug];
  if (!name) return undefined;
  return {
    slug,
    name,
    features: ['backups', 'ipv6', 'metadata', 'install_agent', 'storage', 'image_transfer'],
    available: true,
    sizes: SIZE_SLUGS,
  };
}

export function findSize(slug: string): SizeInfo | undefined {
  const match = SIZE_PATTERN.exec(slug);
  if (!match) return undefined;
  const vcpus = Number(match[2]);
  const amount = Number(match[3]);
  const memory = match[4] === 'mb' ? amount : amount * 1024;
  if (vcpus < 1 || memory < 512 || memory % 8 !== 0) return undefined;
  const disk = Math.max(10, Math.round((memory / 1024) * 25));
  const priceMonthly = Math.max(4, Math.round((memory / 1024) * 6));
  return {
    slug,
    memory,
    vcpus,
    disk,
    transfer: Math.max(0.5, memory / 1024),
    price_monthly: priceMonthly,
    price_hourly: Math.round((priceMonthly / 672) * 100000) / 100000,
    regions: Object.keys(REGION_NAMES),
    available: true,
    description: 'Basic',
  };
}

/** Images are referred to by slug (public images) or by numeric id (snapshots). */
export function findImage(ref: string | number, region: string, now: number): ImageInfo | undefined {
  const createdAt = new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const common = {
    public: true,
    regions: [region],
    created_at: createdAt,
    min_disk_size: 10,
    size_gigabytes: 2.36,
    tags: [],
    status: 'available' as const,
    error_message: '',
  };
  if (typeof ref === 'number') {
    if (!Number.isInteger(ref) || ref < 1) return undefined;
    return {
      ...common,
      id: ref,
      name: `snapshot-${ref}`,
      distribution: 'Unknown',
      slug: null,
      public: false,
      type: 'snapshot',
      description: 'Snapshot',
    };
  }
  const match = IMAGE_PATTERN.exec(ref);
  if (!match) return undefined;
  const family = match[1]!;
  const distribution = DISTRIBUTIONS[family];
  if (!distribution) return undefined;
  return {
    ...common,
    id: stableImageId(ref),
    name: ref.replace(/-x64$/, '').replace(/-/g, ' '),
    distribution,
    slug: ref,
    type: 'base',
    description: `${distribution} base image`,
  };
}

/** Gives each slug the same id every time, as DigitalOcean does. */
function stableImageId(slug: string): number {
  let hash = 0;
  for (const ch of slug) hash = (hash * 31 + ch.charCodeAt(0)) % 90_000_000;
  return 100_000_000 + hash;
}
