/**
 * An emulator in a process of its own, for tests that kill it: it boots one real-host
 * droplet, prints `{"pid", "id", "address"}` as one JSON line once the droplet is active,
 * and then waits to be killed. Arguments: the state root, then a public key line.
 */
import { createEmulator } from '../../src/digitalocean/emulator/index.ts';

const [stateRoot, publicKey] = process.argv.slice(2);
if (!stateRoot || !publicKey) throw new Error('usage: emulator-child.ts STATE_ROOT PUBLIC_KEY');
const token = 'child-token';
const emulator = createEmulator({
  token,
  activeAfterMs: 0,
  hosts: 'real',
  hostStateRoot: stateRoot,
  onError: (message) => process.stderr.write(`${message}\n`),
});
const { url } = await emulator.listen(0);
const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
// biome-ignore lint/suspicious/noExplicitAny: the child reads arbitrary JSON answers.
const call = async (method: string, path: string, body?: unknown): Promise<any> => {
  const res = await fetch(`${url}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return res.json();
};
const key = await call('POST', '/v2/account/keys', { name: 'k', public_key: publicKey });
const created = await call('POST', '/v2/droplets', {
  name: 'doomed',
  size: 's-1vcpu-1gb',
  image: 'debian-12-x64',
  ssh_keys: [key.ssh_key.id],
});
const id = created.droplet.id as number;
for (;;) {
  const { droplet } = await call('GET', `/v2/droplets/${id}`);
  if (droplet.status === 'active') {
    const address = droplet.networks.v4.find((n: { type: string }) => n.type === 'public').ip_address;
    process.stdout.write(`${JSON.stringify({ pid: process.pid, id, address })}\n`);
    break;
  }
  await new Promise((r) => setTimeout(r, 100));
}
setInterval(() => {}, 60_000);
