/**
 * Checks a `POST /v2/droplets` body the way DigitalOcean does and, when it passes,
 * says what to create. Refusals carry DigitalOcean's own 422 messages where they are
 * known (invalid size, region, image, key identifiers, hostname characters). The
 * region may be omitted, as the API allows; the emulator then uses nyc3.
 */
import {
  findImage,
  findRegion,
  findSize,
  type ImageInfo,
  type RegionInfo,
  type SizeInfo,
} from './catalog.ts';
import type { EmulatorState, KeyRecord } from './state.ts';

export const NAME_PATTERN = /^[a-zA-Z0-9]?[a-z0-9A-Z.-]*[a-z0-9A-Z]$/;
export const TAG_PATTERN = /^[a-zA-Z0-9_\-:]+$/;
export const USER_DATA_LIMIT = 64 * 1024;
export const MAX_BATCH = 10;
export const DEFAULT_REGION = 'nyc3';

export interface CreatePlan {
  names: string[];
  /** True when the request used `names`, so the answer is the batch form. */
  batch: boolean;
  region: RegionInfo;
  size: SizeInfo;
  image: ImageInfo;
  tags: string[];
  userData: string | undefined;
  keys: KeyRecord[];
  ipv6: boolean;
  monitoring: boolean;
  vpcUuid: string | undefined;
}

export function planDropletCreate(
  body: Record<string, unknown>,
  state: EmulatorState,
  now: number,
): { plan: CreatePlan } | { error: string } {
  const names = readNames(body);
  if ('error' in names) return names;

  const regionSlug = body.region ?? DEFAULT_REGION;
  const region = typeof regionSlug === 'string' ? findRegion(regionSlug) : undefined;
  if (!region) return { error: 'You specified an invalid region for Droplet creation.' };
  const size = typeof body.size === 'string' ? findSize(body.size) : undefined;
  if (!size) return { error: 'You specified an invalid size for Droplet creation.' };
  const image =
    typeof body.image === 'string' || typeof body.image === 'number'
      ? findImage(body.image, region.slug, now)
      : undefined;
  if (!image) return { error: 'You specified an invalid image for Droplet creation.' };

  const tags = readTags(body.tags);
  if ('error' in tags) return tags;

  if (body.user_data !== undefined && body.user_data !== null) {
    if (typeof body.user_data !== 'string') return { error: 'User data must be a string.' };
    if (Buffer.byteLength(body.user_data, 'utf8') > USER_DATA_LIMIT) {
      return { error: `User data is too long (maximum is ${USER_DATA_LIMIT} bytes).` };
    }
  }

  const keys = readKeys(body.ssh_keys, state);
  if ('error' in keys) return keys;

  if (body.vpc_uuid !== undefined && typeof body.vpc_uuid !== 'string') {
    return { error: 'vpc_uuid must be a string.' };
  }
  return {
    plan: {
      names: names.names,
      batch: names.batch,
      region,
      size,
      image,
      tags: tags.tags,
      userData: typeof body.user_data === 'string' ? body.user_data : undefined,
      keys: keys.keys,
      ipv6: body.ipv6 === true,
      monitoring: body.monitoring === true,
      vpcUuid: typeof body.vpc_uuid === 'string' ? body.vpc_uuid : undefined,
    },
  };
}

function readNames(body: Record<string, unknown>): { names: string[]; batch: boolean } | { error: string } {
  const hasName = body.name !== undefined && body.name !== null;
  const hasNames = body.names !== undefined && body.names !== null;
  if (hasName && hasNames) return { error: 'Specify either name or names, not both.' };
  if (!hasName && !hasNames) return { error: 'Name is required.' };
  const list = hasNames ? body.names : [body.name];
  if (!Array.isArray(list) || list.length === 0)
    return { error: 'Names must be a non-empty array of strings.' };
  if (list.length > MAX_BATCH) return { error: `You can only create up to ${MAX_BATCH} Droplets at once.` };
  for (const name of list) {
    if (typeof name !== 'string' || name.length === 0) return { error: 'Name is required.' };
    if (name.length > 255) return { error: 'Name is too long (maximum is 255 characters).' };
    if (!NAME_PATTERN.test(name))
      return { error: 'Only valid hostname characters are allowed. (a-z, A-Z, 0-9, . and -)' };
  }
  return { names: list as string[], batch: hasNames };
}

function readTags(raw: unknown): { tags: string[] } | { error: string } {
  if (raw === undefined || raw === null) return { tags: [] };
  if (!Array.isArray(raw)) return { error: 'Tags must be an array of strings.' };
  for (const tag of raw) {
    if (typeof tag !== 'string' || tag.length === 0 || tag.length > 255 || !TAG_PATTERN.test(tag)) {
      return {
        error: `Tag "${String(tag)}" is invalid: tag names may contain only letters, numbers, colons, dashes and underscores, and be at most 255 characters long.`,
      };
    }
  }
  return { tags: [...new Set(raw as string[])] };
}

/** Resolves ids and fingerprints against the account; unknown ones answer DigitalOcean's 422. */
function readKeys(raw: unknown, state: EmulatorState): { keys: KeyRecord[] } | { error: string } {
  if (raw === undefined || raw === null) return { keys: [] };
  if (!Array.isArray(raw)) return { error: 'ssh_keys must be an array of key ids or fingerprints.' };
  const keys: KeyRecord[] = [];
  const invalid: string[] = [];
  for (const ref of raw) {
    const key = typeof ref === 'string' || typeof ref === 'number' ? state.findKey(ref) : undefined;
    if (key) {
      if (!keys.includes(key)) keys.push(key);
    } else {
      invalid.push(typeof ref === 'string' ? ref : JSON.stringify(ref));
    }
  }
  if (invalid.length)
    return { error: `${invalid.join(', ')} are invalid key identifiers for Droplet creation.` };
  return { keys };
}
