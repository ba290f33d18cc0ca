/**
 * DigitalOcean's droplet metadata service, as a droplet sees it at
 * http://169.254.169.254/metadata/v1/: an index per level (items, nested ones with a
 * trailing slash), plain-text leaves, a 301 for an index asked for without its slash, a
 * 404 for anything else, and the whole document at /metadata/v1.json (what cloud-init's
 * DigitalOcean datasource reads). One listener per droplet, on the host side of its link,
 * so the listener itself says which droplet is asking.
 */
import { createServer, type Server } from 'node:http';

export interface MetadataSource {
  dropletId: number;
  hostname: string;
  userData: string | undefined;
  publicKeys: string[];
  region: string;
  tags: string[];
  address: string;
  netmask: string;
  gateway: string;
  mac: string;
}

/** The JSON document, in DigitalOcean's field names. */
export function metadataDocument(m: MetadataSource): Record<string, unknown> {
  return {
    droplet_id: m.dropletId,
    hostname: m.hostname,
    user_data: m.userData ?? '',
    vendor_data: '',
    public_keys: m.publicKeys,
    auth_key: '',
    region: m.region,
    interfaces: {
      public: [
        {
          ipv4: { ip_address: m.address, netmask: m.netmask, gateway: m.gateway },
          mac: m.mac,
          type: 'public',
        },
      ],
      // No private interface: cloud-init reads the first entry of every list it is given.
    },
    floating_ip: { ipv4: { active: false } },
    reserved_ip: { ipv4: { active: false } },
    // No resolvers: the emulator's network reaches nothing beyond the machine.
    dns: { nameservers: [] },
    tags: m.tags,
    features: { dhcp_enabled: false },
  };
}

/** The path tree under /metadata/v1/, with DigitalOcean's hyphenated names. */
function tree(m: MetadataSource): Record<string, unknown> {
  const doc = metadataDocument(m);
  return {
    id: String(m.dropletId),
    hostname: m.hostname,
    'user-data': m.userData ?? '',
    'vendor-data': '',
    'public-keys': m.publicKeys.join('\n'),
    region: m.region,
    // The path form names the address `address`, where the JSON form says `ip_address`.
    interfaces: {
      public: [
        { ipv4: { address: m.address, netmask: m.netmask, gateway: m.gateway }, mac: m.mac, type: 'public' },
      ],
    },
    dns: doc.dns,
    floating_ip: doc.floating_ip,
    reserved_ip: doc.reserved_ip,
    tags: m.tags,
    features: doc.features,
  };
}

export function metadataAnswer(
  m: MetadataSource,
  path: string,
): { status: number; body: string; location?: string; json?: boolean } {
  if (path === '/metadata/v1.json')
    return { status: 200, body: JSON.stringify(metadataDocument(m)), json: true };
  if (path === '/metadata/v1') return { status: 301, body: '', location: '/metadata/v1/' };
  if (!path.startsWith('/metadata/v1/')) return { status: 404, body: 'not found\n' };
  const rest = path.slice('/metadata/v1/'.length);
  const wantsIndex = rest === '' || rest.endsWith('/');
  const parts = rest.split('/').filter(Boolean);
  let node: unknown = tree(m);
  for (const part of parts) {
    if (node === null || typeof node !== 'object') return { status: 404, body: 'not found\n' };
    node = (node as Record<string, unknown>)[part];
    if (node === undefined) return { status: 404, body: 'not found\n' };
  }
  const isIndex = node !== null && typeof node === 'object';
  if (isIndex && !wantsIndex) return { status: 301, body: '', location: `${path}/` };
  if (!isIndex)
    return wantsIndex ? { status: 404, body: 'not found\n' } : { status: 200, body: String(node) };
  const entries = Object.entries(node as Record<string, unknown>).map(([key, value]) =>
    value !== null && typeof value === 'object' ? `${key}/` : key,
  );
  return { status: 200, body: entries.join('\n') };
}

/** Serves one droplet's metadata on `address:80`. */
export async function listenMetadata(address: string, source: () => MetadataSource): Promise<Server> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://metadata').pathname;
    const answer = req.method === 'GET' || req.method === 'HEAD' ? metadataAnswer(source(), path) : null;
    if (!answer) {
      res.writeHead(405).end();
      return;
    }
    res.writeHead(answer.status, {
      'content-type': answer.json ? 'application/json' : 'text/plain; charset=utf-8',
      ...(answer.location ? { location: answer.location } : {}),
    });
    res.end(req.method === 'HEAD' ? undefined : answer.body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(80, address, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
