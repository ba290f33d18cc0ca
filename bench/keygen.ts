/**
 * Key generation: berth's full pipeline (generate an ed25519 pair, encode both OpenSSH
 * formats, both fingerprints, seal the private key in the vault) against bare
 * `crypto.generateKeyPairSync('ed25519')`, measured in the same run. Target: at least
 * half the bare rate.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { generateKeyPair } from '../src/domain/sshkeys/generate.ts';
import { sealSecret } from '../src/domain/vault/envelope.ts';
import { createKeyring, generateMasterKey } from '../src/domain/vault/keyring.ts';
import type { BenchRow } from './table.ts';

function rate(fn: () => void, ms: number): number {
  for (let i = 0; i < 200; i++) fn(); // warm up the JIT
  const end = performance.now() + ms;
  let n = 0;
  const start = performance.now();
  while (performance.now() < end) {
    for (let i = 0; i < 50; i++) fn();
    n += 50;
  }
  return n / ((performance.now() - start) / 1000);
}

export async function benchKeygen(durationMs = 2000): Promise<BenchRow[]> {
  const keyring = createKeyring([generateMasterKey('bench')]);
  const owner = randomUUID();
  const bare = () => generateKeyPairSync('ed25519');
  const full = () => {
    const pair = generateKeyPair({ comment: 'bench' });
    sealSecret(keyring, { id: randomUUID(), ownerId: owner }, Buffer.from(pair.privateKey));
  };
  // Alternate the two so that neither gets a quieter machine.
  const bareRates: number[] = [];
  const fullRates: number[] = [];
  for (let round = 0; round < 3; round++) {
    bareRates.push(rate(bare, durationMs / 6));
    fullRates.push(rate(full, durationMs / 6));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const value = median(fullRates);
  const baseline = median(bareRates);
  return [
    {
      name: 'ed25519 key pipeline (generate, encode, fingerprints, encrypt)',
      value,
      unit: 'keys/s',
      baseline,
      baselineName: 'bare generateKeyPairSync',
      target: 'ratio ≥ 0.5',
      pass: value / baseline >= 0.5,
    },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { formatTable } = await import('./table.ts');
  console.log(formatTable(await benchKeygen()));
}
