/**
 * The DigitalOcean resource shapes berth handles, named once from the types generated from
 * DigitalOcean's OpenAPI description, so the rest of the client never spells out the
 * generated paths.
 */
import type { components, operations } from '../types.gen.ts';

/** An account SSH key as DigitalOcean returns it (id and fingerprint always present). */
export type SshKey = Required<Pick<components['schemas']['sshKeys'], 'id' | 'fingerprint'>> &
  components['schemas']['sshKeys'];
export type Droplet = components['schemas']['droplet'];
export type Action = components['schemas']['action'];
export type DropletCreateRequest = components['schemas']['droplet_single_create'];
export type DropletActionRequest = NonNullable<
  operations['dropletActions_post']['requestBody']
>['content']['application/json'];
