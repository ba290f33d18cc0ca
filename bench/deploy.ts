/**
 * What SSH key integration adds to a deploy, against deploys with the operator's static
 * keys only, measured in the same run on PostgreSQL against the emulator with no injected
 * latency. Both kinds run the same environment services (stack.ts); only the keys port
 * differs: the DeploymentKeyService, or a function returning the static key list (what
 * the seed's platform did with DO_SSH_KEY_IDS).
 *
 * What is timed. The deploy path differs between the two kinds in exactly two places, so
 * "added time" is the time spent in those two places, per deploy:
 *  1. the key step, `prepareForDeployment(userId)`, versus returning the static list;
 *  2. the statements of the `provision: start create` transaction, whose UPDATE for the
 *     user's keys also checks that every key is still the user's (so a deleted key is
 *     never used), and for static keys does not.
 * Everything else (the request transaction, reading the record, the BEGIN, role switch
 * and COMMIT around the start-create UPDATE, the create call, recording the droplet) is
 * the same code with the same inputs for both, and is left out by construction rather
 * than subtracted as noise. The added p50 (p99) is the p50 (p99) of
 * the key deploys' two segments minus that of the static deploys'. For context the whole
 * path is also timed, from the ensureToolEnvironmentReady call to the droplet create being
 * answered.
 *
 * Warm: users whose keys are cached (the cache's hit counter is checked). Cold: a
 * brand-new user whose first deploy generates, encrypts, stores and registers a key. The
 * DigitalOcean round trip the cold target is stated in, a GET /v2/account/keys/{fp}
 * through the client (rate budget included), is timed once per cold pair. Key and static
 * deploys alternate in a random order per pair, one deploy at a time, each waiting for
 * its background work, so neither kind gets a quieter machine. The emulator and budget
 * limits are lifted here: thousands of deploys would otherwise wait out DigitalOcean's
 * 250 per minute, which is the polling benchmark's subject, not this one's.
 */
import { generateKeyPair } from '../src/domain/sshkeys/generate.ts';
import { deployOnce, Probe, partsSummary, percentile, type Sample } from './deploy-probe.ts';
import { type BenchStack, type KeysPort, openBenchStack } from './stack.ts';
import type { BenchRow } from './table.ts';

export interface DeployOverheadOptions {
  /** Most warm pairs (one key deploy, one static deploy). Default 2,000. */
  warm?: number;
  /** Most cold pairs. Default 300. */
  cold?: number;
  /** Pairs run first and not counted, for the JIT and the connection pool. Default 100. */
  warmup?: number;
  /**
   * Time allowed to each phase, so that `npm run bench` stays within minutes on a busy
   * machine: a phase stops at its limit once it has its minimum (500 warm, 100 cold
   * pairs). The sample counts are printed with the figures. Default 60 s warm, 20 s cold.
   */
  warmSeconds?: number;
  coldSeconds?: number;
  databaseUrl?: string;
}

const MIN_WARM = 500;
const MIN_COLD = 100;
const COLD_WARMUP = 20;

const UNLIMITED = { perHour: 10_000_000, perMinute: 10_000_000 };

export async function benchDeployOverhead(options: DeployOverheadOptions = {}): Promise<BenchRow[]> {
  const n = {
    warm: options.warm ?? 2000,
    cold: options.cold ?? 300,
    warmup: options.warmup ?? 100,
    warmMs: (options.warmSeconds ?? 60) * 1000,
    coldMs: (options.coldSeconds ?? 20) * 1000,
  };
  const probe = new Probe();
  const stack = await openBenchStack({
    ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}),
    keyServicesAuthz: (authz) => probe.keyServicesAuthz(authz),
    onFetched: (ms) => probe.part('DigitalOcean HTTP', ms),
    activeAfterMs: 3000,
    emulatorLimits: { ...UNLIMITED, listKeysPerMinute: 1000 },
    budgetLimits: { ...UNLIMITED, deployReserve: 0 },
    addressCount: 60_000,
  });
  try {
    return await measure(stack, probe, n);
  } finally {
    await stack.close();
  }
}

async function measure(
  stack: BenchStack,
  probe: Probe,
  n: { warm: number; cold: number; warmup: number; warmMs: number; coldMs: number },
): Promise<BenchRow[]> {
  // The operator's static key, on the account as BERTH_FALLBACK_SSH_KEY_IDS would name it.
  const operator = await stack.client.createSshKey({
    name: 'operator',
    publicKey: generateKeyPair({ comment: 'operator' }).publicKey,
  });
  const staticKeys: KeysPort = {
    prepareForDeployment: async () => ({
      digitaloceanKeyIds: [operator.id],
      fingerprints: [operator.fingerprint],
      refs: [operator.id],
      usedFallbackKeys: true,
    }),
    invalidateSSHKeyCache: async () => {},
  };
  // Following droplets to active is not part of either figure: the follower never polls here.
  const common = {
    authz: probe.authz(stack.authz),
    droplets: probe.droplets(stack.client),
    follow: { firstDelayMs: 3_600_000, maxDelayMs: 3_600_000 },
  };
  const withKeys = stack.deployPath({ ...common, keys: probe.keys(stack.deploymentKeys) });
  const withStatic = stack.deployPath({ ...common, keys: probe.keys(staticKeys) });

  const users = await stack.createUsers(100);
  for (const userId of users) await stack.deploymentKeys.getDeploymentSSHKeys(userId);
  // Key creation NOTIFYs drop cache entries when they arrive; let them, then warm again.
  await new Promise((r) => setTimeout(r, 500));
  for (const userId of users) await stack.deploymentKeys.getDeploymentSSHKeys(userId);
  const owner = (i: number) => users[i % users.length]!;

  /** Runs one key deploy and one static deploy in a random order. */
  const pair = async (keyDeploy: () => Promise<Sample>, staticDeploy: () => Promise<Sample>) => {
    if (Math.random() < 0.5) {
      const k = await keyDeploy();
      return { k, s: await staticDeploy() };
    }
    const s = await staticDeploy();
    return { k: await keyDeploy(), s };
  };

  // Cold first, while the rate budget's table of recent calls is small, as in production.
  const coldUsers = await stack.createUsers(n.cold + COLD_WARMUP);
  const coldAgents = await stack.createAgents(coldUsers);
  const coldStaticAgents = await stack.createAgents(coldUsers.map((_, i) => owner(i)));
  const coldKey: Sample[] = [];
  const coldStatic: Sample[] = [];
  const rtt: number[] = [];
  const bareRtt: number[] = [];
  const keyCallsBefore = stack.calls.filter((c) => c.path.startsWith('/v2/account/keys')).length;
  let coldRun = 0;
  const coldStart = performance.now();
  for (let i = 0; i < coldUsers.length; i++) {
    if (coldKey.length >= MIN_COLD && performance.now() - coldStart > n.coldMs) break;
    coldRun++;
    const { k, s } = await pair(
      () => deployOnce(withKeys, probe, coldAgents[i]!, coldUsers[i]!),
      () => deployOnce(withStatic, probe, coldStaticAgents[i]!, owner(i)),
    );
    const start = performance.now();
    await stack.client.getSshKey(operator.fingerprint);
    const viaClient = performance.now() - start;
    const bareStart = performance.now();
    if ((await stack.bareGet(`/v2/account/keys/${operator.fingerprint}`)) !== 200)
      throw new Error('bare GET failed');
    if (i < COLD_WARMUP) continue; // warm-up: JIT and connections
    rtt.push(viaClient);
    bareRtt.push(performance.now() - bareStart);
    coldKey.push(k);
    coldStatic.push(s);
  }
  // Less the timed GETs through the client (the bare GETs bypass its record).
  const keyCalls =
    stack.calls.filter((c) => c.path.startsWith('/v2/account/keys')).length - keyCallsBefore - coldRun;
  const tripsPerCold = keyCalls / coldRun;
  const coldSeconds = (performance.now() - coldStart) / 1000;

  const agents = await stack.createAgents(
    Array.from({ length: 2 * (n.warm + n.warmup) }, (_, i) => owner(i)),
  );
  const warmKey: Sample[] = [];
  const warmStatic: Sample[] = [];
  const missesBefore = stack.cache.misses;
  const warmStart = performance.now();
  for (let i = 0; i < n.warm + n.warmup; i++) {
    if (warmKey.length >= MIN_WARM && performance.now() - warmStart > n.warmMs) break;
    const { k, s } = await pair(
      () => deployOnce(withKeys, probe, agents[2 * i]!, owner(2 * i)),
      () => deployOnce(withStatic, probe, agents[2 * i + 1]!, owner(2 * i + 1)),
    );
    if (i < n.warmup) continue;
    warmKey.push(k);
    warmStatic.push(s);
  }
  const warmMisses = stack.cache.misses - missesBefore;
  const warmSeconds = (performance.now() - warmStart) / 1000;

  const p = (xs: Sample[], f: Exclude<keyof Sample, 'parts'>, q: number) =>
    percentile(
      xs.map((x) => x[f]),
      q,
    );
  const added = (k: Sample[], s: Sample[], q: number) => p(k, 'added', q) - p(s, 'added', q);
  const rtt50 = percentile(rtt, 50);
  const rtt99 = percentile(rtt, 99);
  const detail: Record<string, string> = {};
  for (const [name, k, s] of [
    ['warm', warmKey, warmStatic],
    ['cold', coldKey, coldStatic],
  ] as const) {
    for (const f of ['keyStep', 'startCreate', 'added', 'whole'] as const) {
      detail[`${name} ${f} p50/p99 (key | static)`] =
        `${p(k, f, 50).toFixed(3)}/${p(k, f, 99).toFixed(3)} | ${p(s, f, 50).toFixed(3)}/${p(s, f, 99).toFixed(3)} ms`;
    }
  }
  detail['cold key step by part, p50 (mean)'] = partsSummary(coldKey);
  detail['DigitalOcean round trip through the client p50/p99'] = `${rtt50.toFixed(3)}/${rtt99.toFixed(3)} ms`;
  detail['bare HTTP round trip (no client, no budget) p50/p99'] =
    `${percentile(bareRtt, 50).toFixed(3)}/${percentile(bareRtt, 99).toFixed(3)} ms`;
  // The resolution of a p99 difference on this machine: the same difference taken between
  // two halves of the static deploys, which differ in nothing but noise.
  const half = (r: number) => warmStatic.filter((_, i) => i % 2 === r);
  detail['A/A: static deploys, even vs odd pairs, added p99 difference'] =
    `${(p(half(0), 'added', 99) - p(half(1), 'added', 99)).toFixed(3)} ms`;
  detail['key-cache misses in the warm phase'] = String(warmMisses);
  detail['deploys whose start-create ran twice (keys changed)'] = String(
    [...warmKey, ...coldKey].filter((x) => x.starts > 1).length,
  );
  detail['samples (warm pairs, cold pairs)'] = `${warmKey.length}, ${coldKey.length}`;
  detail['phase times (warm, cold)'] = `${warmSeconds.toFixed(1)} s, ${coldSeconds.toFixed(1)} s`;
  process.stderr.write(
    `deploy details:\n${Object.entries(detail)
      .map(([k, v]) => `  ${k}: ${v}`)
      .join('\n')}\n`,
  );

  const warm99 = added(warmKey, warmStatic, 99);
  const cold50 = added(coldKey, coldStatic, 50);
  const cold99 = added(coldKey, coldStatic, 99);
  return [
    {
      name: 'deploy, warm keys: added time p50',
      value: added(warmKey, warmStatic, 50),
      unit: 'ms',
      baseline: p(warmStatic, 'whole', 50),
      baselineName: 'static-key deploy p50',
    },
    {
      name: `deploy, warm keys: added time p99 (${warmKey.length} pairs)`,
      value: warm99,
      unit: 'ms',
      baseline: p(warmStatic, 'whole', 99),
      baselineName: 'static-key deploy p99',
      target: '≤ 1 ms',
      pass: warm99 <= 1,
    },
    {
      name: 'deploy, warm keys: key step alone p99',
      value: p(warmKey, 'keyStep', 99),
      unit: 'ms',
      baseline: p(warmStatic, 'keyStep', 99),
      baselineName: 'static key list p99',
    },
    {
      name: 'deploy, cold user: added time p50',
      value: cold50,
      unit: 'ms',
      baseline: rtt50,
      baselineName: 'DO round trip p50',
      target: '≤ round trip + 5 ms',
      pass: cold50 <= rtt50 + 5,
    },
    {
      name: `deploy, cold user: added time p99 (${coldKey.length} pairs)`,
      value: cold99,
      unit: 'ms',
      baseline: rtt99,
      baselineName: 'DO round trip p99',
      target: '≤ round trip + 5 ms',
      pass: cold99 <= rtt99 + 5,
    },
    {
      name: 'deploy, cold user: DigitalOcean round trips in the key step',
      value: tripsPerCold,
      unit: 'calls',
      target: '≤ 1',
      pass: tripsPerCold <= 1,
    },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { formatTable } = await import('./table.ts');
  console.log(formatTable(await benchDeployOverhead()));
}
