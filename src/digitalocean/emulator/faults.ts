/**
 * Fault injection: the ways a real DigitalOcean lets a client down, on demand. Rules
 * say which endpoint (an OpenAPI operationId such as `droplets_create`, or `*`), what
 * goes wrong (a 429, 500 or 503 answer, a request held until the client gives up, or a
 * dropped connection), and when: on every call, on a random share of calls, or on the
 * next N calls only. A rule in the `after` phase lets the request take effect and then
 * fails the answer, which is how a client learns that a droplet it believes failed
 * does exist. Calls are counted per endpoint so tests can see retries.
 */
import { z } from 'zod';

export const FAULT_KINDS = [429, 500, 503, 'timeout', 'drop'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
export type FaultPhase = 'before' | 'after';

const ruleSchema = z.object({
  endpoint: z.string().min(1),
  fault: z.union([z.literal(429), z.literal(500), z.literal(503), z.literal('timeout'), z.literal('drop')]),
  phase: z.enum(['before', 'after']).optional(),
  times: z.number().int().positive().optional(),
  rate: z.number().min(0).max(1).optional(),
  retryAfterSeconds: z.number().int().min(0).nullable().optional(),
  hangMs: z.number().int().min(0).optional(),
});

/** What a caller asks for; see the module comment. Without `times` or `rate` the rule fires on every call. */
export type FaultRuleInput = z.infer<typeof ruleSchema>;

export interface FaultRule {
  id: number;
  endpoint: string;
  fault: FaultKind;
  phase: FaultPhase;
  /** Calls still to fail when the rule was given `times`. */
  remaining: number | undefined;
  rate: number | undefined;
  /** For 429: seconds sent in `retry-after`; null sends none. */
  retryAfterSeconds: number | null;
  /** For timeouts: how long to hold the request before dropping it; undefined holds until the client leaves. */
  hangMs: number | undefined;
}

/** Checks untrusted input (admin API, CLI) and returns the rule or the reason it is not one. */
export function parseFaultRule(input: unknown): { rule: FaultRuleInput } | { error: string } {
  const parsed = ruleSchema.safeParse(input);
  if (!parsed.success)
    return { error: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') };
  return { rule: parsed.data };
}

/** Reads `endpoint=code:rate`, e.g. `droplets_create=500:0.1` or `*=drop:0.05`, as used by `--error-rate`. */
export function parseErrorRate(spec: string): FaultRuleInput {
  const match = /^([^=]+)=(429|500|503|timeout|drop):([0-9.]+)$/.exec(spec.trim());
  const rate = Number(match?.[3]);
  if (!match || !(rate >= 0 && rate <= 1)) {
    throw new Error(
      `--error-rate wants endpoint=code:rate (code 429|500|503|timeout|drop, rate 0..1), got "${spec}"`,
    );
  }
  const code = match[2]!;
  const fault = (/^\d+$/.test(code) ? Number(code) : code) as FaultKind;
  return { endpoint: match[1]!, fault, rate };
}

/** Reads `ms` (every endpoint) or `endpoint=ms`, as used by `--latency-ms`. */
export function parseLatency(spec: string): { endpoint: string; ms: number } {
  const match = /^(?:([^=]+)=)?(\d+)$/.exec(spec.trim());
  if (!match) throw new Error(`--latency-ms wants ms or endpoint=ms, got "${spec}"`);
  return { endpoint: match[1] ?? '*', ms: Number(match[2]) };
}

export class FaultInjector {
  private rules: FaultRule[] = [];
  private readonly latency = new Map<string, number>();
  private readonly calls = new Map<string, number>();
  private nextId = 1;

  private readonly random: () => number;

  /** `random` decides rate-based faults; tests pass a deterministic one. */
  constructor(random: () => number) {
    this.random = random;
  }

  add(input: FaultRuleInput): FaultRule {
    const rule: FaultRule = {
      id: this.nextId++,
      endpoint: input.endpoint,
      fault: input.fault,
      phase: input.phase ?? 'before',
      remaining: input.times,
      rate: input.rate,
      retryAfterSeconds: input.retryAfterSeconds === undefined ? 1 : input.retryAfterSeconds,
      hangMs: input.hangMs,
    };
    this.rules.push(rule);
    return rule;
  }

  remove(id: number): boolean {
    const before = this.rules.length;
    this.rules = this.rules.filter((r) => r.id !== id);
    return this.rules.length !== before;
  }

  list(): FaultRule[] {
    return this.rules.map((r) => ({ ...r }));
  }

  /** Sets added latency for one endpoint, or for all with `*`; 0 removes it. */
  setLatency(endpoint: string, ms: number): void {
    if (ms > 0) this.latency.set(endpoint, ms);
    else this.latency.delete(endpoint);
  }

  latencies(): Record<string, number> {
    return Object.fromEntries(this.latency);
  }

  /** The delay for a call: the endpoint's own latency plus the global one. */
  latencyFor(endpoint: string): number {
    return (this.latency.get('*') ?? 0) + (this.latency.get(endpoint) ?? 0);
  }

  count(endpoint: string): void {
    this.calls.set(endpoint, (this.calls.get(endpoint) ?? 0) + 1);
  }

  counters(): Record<string, number> {
    return Object.fromEntries(this.calls);
  }

  /**
   * The rule that fires for this call, if any. Rules fire in the order they were
   * added; a counted rule uses up one of its calls and retires when none are left.
   */
  pick(endpoint: string, phase: FaultPhase): FaultRule | undefined {
    for (const rule of this.rules) {
      if (rule.phase !== phase || (rule.endpoint !== '*' && rule.endpoint !== endpoint)) continue;
      if (rule.remaining !== undefined) {
        rule.remaining -= 1;
        if (rule.remaining <= 0) this.remove(rule.id);
        return { ...rule };
      }
      if (rule.rate !== undefined) {
        if (this.random() < rule.rate) return { ...rule };
        continue;
      }
      return { ...rule };
    }
    return undefined;
  }

  /** Removes every rule and latency and zeroes the counters. */
  reset(): void {
    this.rules = [];
    this.latency.clear();
    this.calls.clear();
  }
}
