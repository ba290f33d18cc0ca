/**
 * Names for the endpoints the emulator serves, taken from the operationIds in
 * DigitalOcean's OpenAPI description (`droplets_create`, `sshKeys_list`, ...). Fault
 * rules, latencies and call counters all use these names, so a test can say "fail the
 * next two droplets_create calls" without spelling out methods and paths.
 */

const TABLE: Array<[method: string, pattern: RegExp, endpoint: string]> = [
  ['GET', /^\/v2\/account\/keys$/, 'sshKeys_list'],
  ['POST', /^\/v2\/account\/keys$/, 'sshKeys_create'],
  ['GET', /^\/v2\/account\/keys\/[^/]+$/, 'sshKeys_get'],
  ['PUT', /^\/v2\/account\/keys\/[^/]+$/, 'sshKeys_update'],
  ['DELETE', /^\/v2\/account\/keys\/[^/]+$/, 'sshKeys_delete'],
  ['GET', /^\/v2\/droplets$/, 'droplets_list'],
  ['POST', /^\/v2\/droplets$/, 'droplets_create'],
  ['DELETE', /^\/v2\/droplets$/, 'droplets_destroy_byTag'],
  ['GET', /^\/v2\/droplets\/[^/]+$/, 'droplets_get'],
  ['DELETE', /^\/v2\/droplets\/[^/]+$/, 'droplets_destroy'],
  ['POST', /^\/v2\/droplets\/[^/]+\/actions$/, 'dropletActions_post'],
  ['GET', /^\/v2\/droplets\/[^/]+\/actions\/[^/]+$/, 'dropletActions_get'],
  ['GET', /^\/v2\/actions\/[^/]+$/, 'actions_get'],
];

/** Every endpoint name the emulator knows, for documentation and input checks. */
export const ENDPOINTS: readonly string[] = TABLE.map(([, , endpoint]) => endpoint);

/** The endpoint a request is for, or `unknown` for paths the emulator does not serve. */
export function endpointFor(method: string, path: string): string {
  const trimmed = path.length > 1 ? path.replace(/\/+$/, '') : path;
  const verb = method.toUpperCase();
  for (const [m, pattern, endpoint] of TABLE) {
    if (m === verb && pattern.test(trimmed)) return endpoint;
  }
  return 'unknown';
}
