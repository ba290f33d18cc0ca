/**
 * `npm run bench`: runs every benchmark and prints one table (figure, baseline measured
 * in the same run, ratio, target). Benchmarks, not tests: nothing here fails the build;
 * the table says whether each target was met. `--only name` runs one.
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { benchApi } from './api.ts';
import { benchDeployOverhead } from './deploy.ts';
import { benchDropletBoot } from './droplet-boot.ts';
import { benchDropletKeys } from './droplet-keys.ts';
import { benchDropletLogin } from './droplet-login.ts';
import { benchKeygen } from './keygen.ts';
import { benchOnboarding } from './onboarding.ts';
import { benchPolling } from './polling.ts';
import { type BenchRow, formatTable } from './table.ts';

const benches: Record<string, () => Promise<BenchRow[]>> = {
  keygen: () => benchKeygen(),
  deploy: () => benchDeployOverhead(),
  polling: () => benchPolling(),
  onboarding: () => benchOnboarding(),
  api: () => benchApi(),
  'droplet-boot': () => benchDropletBoot(),
  'droplet-keys': () => benchDropletKeys(),
  'droplet-login': () => benchDropletLogin(),
};

// Other processes skew every figure; the load average before and after says whether they ran.
const loadBefore = loadavg()[0]!;
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
const rows: BenchRow[] = [];
for (const [name, run] of Object.entries(benches)) {
  if (only && name !== only) continue;
  process.stderr.write(`running ${name}…\n`);
  rows.push(...(await run()));
}
console.log(
  `machine: ${cpus()[0]?.model ?? 'unknown'} × ${cpus().length}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, load average ${loadBefore.toFixed(2)} before, ${loadavg()[0]!.toFixed(2)} after`,
);
console.log(formatTable(rows));
