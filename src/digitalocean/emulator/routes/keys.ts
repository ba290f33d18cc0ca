/**
 * `/v2/account/keys`: the account's SSH keys. A key is addressed by numeric id or by
 * fingerprint; uniqueness is by key material, not by name, and a duplicate answers
 * DigitalOcean's unprocessable_entity "SSH Key is already in use on your account".
 */
import { Hono } from 'hono';
import { type EmulatorEnv, noContent, notFound, paginate, readJsonObject, unprocessable } from '../http.ts';
import { parsePublicKey } from '../pubkey.ts';
import type { EmulatorState } from '../state.ts';
import { keyView } from '../views.ts';

export function keyRoutes(state: EmulatorState): Hono<EmulatorEnv> {
  const app = new Hono<EmulatorEnv>();

  app.get('/', (c) => {
    const page = paginate(
      c,
      [...state.keys.values()].sort((a, b) => a.id - b.id),
    );
    return c.json({ ssh_keys: page.items.map(keyView), links: page.links, meta: page.meta });
  });

  app.post('/', async (c) => {
    const read = await readJsonObject(c);
    if ('response' in read) return read.response;
    const { name, public_key: publicKey } = read.body;
    if (typeof name !== 'string' || name.trim() === '') return unprocessable(c, "Name can't be blank");
    if (typeof publicKey !== 'string' || publicKey.trim() === '') {
      return unprocessable(c, "Public key can't be blank");
    }
    const parsed = parsePublicKey(publicKey);
    if (!parsed) return unprocessable(c, 'Key invalid, key should be of the format `type key [comment]`');
    for (const existing of state.keys.values()) {
      if (existing.fingerprint === parsed.fingerprint) {
        return unprocessable(c, 'SSH Key is already in use on your account');
      }
    }
    const key = { id: state.newKeyId(), fingerprint: parsed.fingerprint, public_key: publicKey.trim(), name };
    state.keys.set(key.id, key);
    return c.json({ ssh_key: keyView(key) }, 201);
  });

  app.get('/:identifier', (c) => {
    const key = state.findKey(c.req.param('identifier'));
    return key ? c.json({ ssh_key: keyView(key) }) : notFound(c);
  });

  app.put('/:identifier', async (c) => {
    const key = state.findKey(c.req.param('identifier'));
    if (!key) return notFound(c);
    const read = await readJsonObject(c);
    if ('response' in read) return read.response;
    const { name } = read.body;
    if (name !== undefined) {
      if (typeof name !== 'string' || name.trim() === '') return unprocessable(c, "Name can't be blank");
      key.name = name;
    }
    return c.json({ ssh_key: keyView(key) });
  });

  app.delete('/:identifier', (c) => {
    const key = state.findKey(c.req.param('identifier'));
    if (!key) return notFound(c);
    state.keys.delete(key.id);
    return noContent(c);
  });

  return app;
}
