/**
 * Key generation: berth's full pipeline (generate an ed25519 pair, encode both OpenSSH
 * formats, both fingerprints, seal the private key in the vault) against bare
 * `crypto.generateKeyPairSync('ed25519')`, measured in the same run. Target: at least
 * half the bare rate.
 *
 * The machine is shared, and other processes come and go within tens of milliseconds, so
 * the two sides are interleaved finely: a batch of bare keys, then a batch of pipeline keys
 * (the order alternating, so that neither always runs right after the other and inherits
 * its garbage), ten such pairs to a block of about 20 ms. Each block gives a ratio from
 * moments close enough together to share the machine's load, and the figure is the block
 * with the median ratio. Both sides do their full work on every iteration: nothing is
 * cached, batched or skipped between keys.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { generateKeyPair } from '../src/domain/sshkeys/generate.ts';
import { sealSecret } from '../src/domain/vault/envelope.ts';
import { createKeyring, generateMasterKey } from '../src/domain/vault/keyring.ts';
import type { BenchRow } from './table.ts';

const BATCH = 20;
const PAIRS_PER_BLOCK = 10;

interface Block {
  /** Seconds spent on the bare side's and the pipeline's keys. */
  bare: number;
  full: number;
}

function timeBatch(fn: () => void): number {
  const start = performance.now();
  for (let i = 0; i < BATCH; i++) fn();
  return (performance.now() - start) / 1000;
}

export async function benchKeygen(durationMs = 5000): Promise<BenchRow[]> {
  const keyring = createKeyring([generateMasterKey('bench')]);
  const owner = randomUUID();
  const bare = () => generateKeyPairSync('ed25519');
  const full = () => {
    const pair = generateKeyPair({ comment: 'bench' });
    sealSecret(keyring, { id: randomUUID(), ownerId: owner }, Buffer.from(pair.privateKey));
  };
  // Warm up the JIT on both paths before anything counts.
  for (let i = 0; i < 500; i++) {
    bare();
    full();
  }
  const blocks: Block[] = [];
  const end = performance.now() + durationMs;
  let pair = 0;
  let block: Block = { bare: 0, full: 0 };
  while (performance.now() < end) {
    if (pair % 2 === 0) {
      block.bare += timeBatch(bare);
      block.full += timeBatch(full);
    } else {
      block.full += timeBatch(full);
      block.bare += timeBatch(bare);
    }
    pair++;
    if (pair % PAIRS_PER_BLOCK === 0) {
      blocks.push(block);
      block = { bare: 0, full: 0 };
    }
  }
  const keysPerBlock = BATCH * PAIRS_PER_BLOCK;
  const ratio = (b: Block) => b.bare / b.full;
  const sorted = [...blocks].sort((a, b) => ratio(a) - ratio(b));
  const at = (q: number) => ratio(sorted[Math.floor(q * (sorted.length - 1))]!).toFixed(3);
  const mid = sorted[Math.floor(sorted.length / 2)]!;
  const total = blocks.reduce((sum, b) => ({ bare: sum.bare + b.bare, full: sum.full + b.full }), {
    bare: 0,
    full: 0,
  });
  process.stderr.write(
    `keygen details: ${blocks.length} blocks of ${PAIRS_PER_BLOCK} × ${BATCH} keys a side; ` +
      `block ratio p10/p50/p90 ${at(0.1)}/${at(0.5)}/${at(0.9)}; ` +
      `whole run ${Math.round((blocks.length * keysPerBlock) / total.full)} / ${Math.round((blocks.length * keysPerBlock) / total.bare)} keys/s ` +
      `(ratio ${ratio(total).toFixed(3)})\n`,
  );
  return [
    {
      name: 'ed25519 key pipeline (generate, encode, fingerprints, encrypt)',
      value: keysPerBlock / mid.full,
      unit: 'keys/s',
      baseline: keysPerBlock / mid.bare,
      baselineName: 'bare generateKeyPairSync',
      target: 'ratio ≥ 0.5',
      pass: ratio(mid) >= 0.5,
    },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { formatTable } = await import('./table.ts');
  console.log(formatTable(await benchKeygen()));
}
