/**
 * Polling that scales: 200 deploys at once, by 200 users whose keys are already
 * registered, against the emulator with DigitalOcean's real limits (250 per minute, 5,000
 * per hour) and berth's real rate budget (the shared one on PostgreSQL, as the
 * composition root wires it) and real follower timings, with droplets that take a few
 * seconds to boot. Every call the emulator receives from the first deploy until the last
 * environment is `active` is counted (its admin counters, cross-checked against what the
 * client sent), and printed per deploy with the number of 429 answers.
 *
 * The users' keys are put on the emulator's account directly, not through its API: the
 * setup is not what is measured, and 200 registrations through the API would spend
 * this minute's limit before the first deploy. Time is not scaled: the follower's
 * timers and the budget's database clock are real.
 */
import { sql } from 'drizzle-orm';
import { parsePublicKey } from '../src/digitalocean/emulator/pubkey.ts';
import { setDigitalOceanKeyId } from '../src/store/ssh-keys.ts';
import { type BenchStack, callBreakdown, openBenchStack } from './stack.ts';
import type { BenchRow } from './table.ts';

export interface PollingBenchOptions {
  deploys?: number;
  /** How long the emulator's droplets take to boot. Default 3 s. */
  activeAfterMs?: number;
  /** Longest the deploy phase may take before the run is reported as failed. */
  timeoutMs?: number;
  databaseUrl?: string;
}

const rowsOf = <T>(result: unknown) => (result as { rows: T[] }).rows;

export async function benchPolling(options: PollingBenchOptions = {}): Promise<BenchRow[]> {
  const deploys = options.deploys ?? 200;
  const activeAfterMs = options.activeAfterMs ?? 3000;
  const stack = await openBenchStack({
    ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}),
    activeAfterMs,
  });
  try {
    return await measure(stack, deploys, activeAfterMs, options.timeoutMs ?? 180_000);
  } finally {
    await stack.close();
  }
}

/** Gives each user a default key and puts it on the emulator's account, as onboarding would. */
async function onboard(stack: BenchStack, users: string[]) {
  for (const userId of users) {
    const [key] = await stack.sshKeys.ensureUserHasSSHKeys(userId, { actor: 'service:bench' });
    if (!key) throw new Error('onboarding made no key');
    const parsed = parsePublicKey(key.publicKey);
    if (parsed?.fingerprint !== key.fingerprintMd5)
      throw new Error('berth and the emulator disagree on a fingerprint');
    const id = stack.emulator.state.newKeyId();
    stack.emulator.state.keys.set(id, {
      id,
      fingerprint: parsed.fingerprint,
      public_key: key.publicKey,
      name: `berth-${userId}`,
    });
    await stack.authz.withUser(userId, (tx) => setDigitalOceanKeyId(tx, key.id, id));
  }
}

async function measure(
  stack: BenchStack,
  deploys: number,
  activeAfterMs: number,
  timeoutMs: number,
): Promise<BenchRow[]> {
  const users = await stack.createUsers(deploys);
  await onboard(stack, users);
  const agents = await stack.createAgents(users);
  let active = 0;
  let allActive!: () => void;
  const done = new Promise<void>((resolve) => {
    allActive = resolve;
  });
  const path = stack.deployPath({
    keys: stack.deploymentKeys,
    onActive: () => {
      if (++active === deploys) allActive();
    },
  });

  await stack.emulator.admin.reset(); // counters from zero; the setup made no calls anyway
  const sentBefore = stack.calls.length;
  const start = performance.now();
  await Promise.all(users.map((userId, i) => path.service.ensureToolEnvironmentReady(agents[i]!, userId)));
  let timer: NodeJS.Timeout | undefined;
  const finished = await Promise.race([
    done.then(() => true),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  const seconds = (performance.now() - start) / 1000;
  const counters = stack.emulator.admin.counters();
  const received = Object.values(counters).reduce((a, b) => a + b, 0);
  const sent = stack.calls.slice(sentBefore);
  const tooMany = sent.filter((c) => c.status === 429).length;
  const polls = sent.filter((c) => c.tag?.startsWith('berth-poll:')).length;
  const [states] = rowsOf<{ active: number; droplets: number }>(
    await stack.authz.asService('bench: count environments', (tx) =>
      tx.execute(sql`select count(*) filter (where status = 'active')::int as active,
        count(distinct droplet_id)::int as droplets from agent_droplets`),
    ),
  );
  process.stderr.write(
    `polling details: ${finished ? 'all active' : `TIMED OUT after ${timeoutMs} ms`}; ` +
      `${states?.active} active records, ${states?.droplets} distinct droplets, ` +
      `${stack.emulator.state.droplets.size} droplets on the emulator; ` +
      `emulator received ${received} calls, client sent ${sent.length}\n` +
      `  by endpoint (emulator): ${JSON.stringify(counters)}\n` +
      `  by call (client): ${JSON.stringify(callBreakdown(sent))}\n`,
  );
  const perDeploy = received / deploys;
  const reached = finished && states?.active === deploys;
  return [
    {
      // Light droplets (no SSH servers): the subject is berth's polling, not droplet boots.
      name: `polling: DigitalOcean calls per deploy (${deploys} at once, light droplets${reached ? '' : ', NOT ALL ACTIVE'})`,
      value: perDeploy,
      unit: 'calls',
      target: '≤ 1.5',
      pass: reached && perDeploy <= 1.5,
    },
    {
      name: 'polling: 429 answers',
      value: tooMany,
      unit: 'answers',
      target: '0',
      pass: tooMany === 0,
    },
    {
      name: 'polling: follower list calls per deploy',
      value: polls / deploys,
      unit: 'calls',
    },
    {
      name: `polling: all ${deploys} active after (light droplets)`,
      value: seconds,
      unit: 's',
      baseline: activeAfterMs / 1000,
      baselineName: 'droplet boot time',
    },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { formatTable } = await import('./table.ts');
  console.log(formatTable(await benchPolling()));
}
