/**
 * The master keyring: named 256-bit keys that wrap the vault's data keys. The first
 * key encrypts; every key decrypts, which is what lets an operator add a new key in
 * front, run `berth vault rotate`, and only then retire the old one. Parsing is pure;
 * loading from the environment or a key file happens in the composition root.
 *
 * Format (`BERTH_MASTER_KEYS`, or the embedded key file): comma- or newline-separated
 * entries `key_id:base64-of-32-bytes`, newest first.
 */
import { randomBytes } from 'node:crypto';

export interface MasterKey {
  readonly id: string;
  readonly key: Buffer;
}

export interface Keyring {
  /** The key new secrets are wrapped with. */
  readonly current: MasterKey;
  get(id: string): MasterKey | undefined;
  ids(): string[];
}

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

export class KeyringError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyringError';
  }
}

export function createKeyring(keys: MasterKey[]): Keyring {
  const [current] = keys;
  if (!current) throw new KeyringError('The master keyring is empty: give at least one key.');
  const byId = new Map<string, MasterKey>();
  for (const key of keys) {
    if (byId.has(key.id)) throw new KeyringError(`The master key id "${key.id}" appears twice.`);
    byId.set(key.id, key);
  }
  return { current, get: (id) => byId.get(id), ids: () => [...byId.keys()] };
}

/** Parses a keyring text. Errors name the entry's position and key id, never key bytes. */
export function parseKeyring(text: string): Keyring {
  const entries = text
    .split(/[,\n]/)
    .map((entry) => entry.trim())
    .filter((entry) => entry && !entry.startsWith('#'));
  const keys = entries.map((entry, index) => {
    const colon = entry.indexOf(':');
    const id = colon > 0 ? entry.slice(0, colon) : '';
    if (!KEY_ID.test(id)) {
      throw new KeyringError(
        `Master key entry ${index + 1} must look like "key_id:base64key" with a key id of letters, digits, ".", "_" or "-".`,
      );
    }
    const key = Buffer.from(entry.slice(colon + 1), 'base64');
    if (key.length !== 32) {
      throw new KeyringError(`Master key "${id}" must be 32 bytes of base64 (it decodes to ${key.length}).`);
    }
    return { id, key };
  });
  return createKeyring(keys);
}

export function generateMasterKey(id: string): MasterKey {
  if (!KEY_ID.test(id)) throw new KeyringError(`"${id}" is not a valid master key id.`);
  return { id, key: randomBytes(32) };
}

export function formatMasterKey(key: MasterKey): string {
  return `${key.id}:${key.key.toString('base64')}`;
}
