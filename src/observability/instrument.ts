/**
 * Connects the metrics to what berth's core is made of, for the composition root: the
 * scrape-time figures (rate budget, breaker, queue depth, onboarding and environment
 * states) and the circuit breaker's transitions, which are counted and logged: "the
 * circuit opened" is the first line an operator looks for when deploys stall.
 */
import { readFileSync } from 'node:fs';
import type { Authz } from '../db/authz.ts';
import type { BreakerState } from '../digitalocean/client/index.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';
import {
  countEnvironmentStates,
  countOnboardingStates,
  registerScrapeGauges,
  type ScrapeSources,
} from './scrape.ts';

export interface InstrumentedParts {
  authz: Authz;
  rateBudget: ScrapeSources['rateBudget'];
  digitalocean: {
    breakerState(): BreakerState;
    onBreakerStateChange(listener: (state: BreakerState) => void): { dispose(): void };
  };
  jobs: { counts: ScrapeSources['jobCounts'] };
}

/** Registers the scrape-time figures and watches the breaker; returns what stops watching. */
export function instrumentCore(metrics: Metrics, parts: InstrumentedParts, logger: Logger): () => void {
  const failing = new Set<string>();
  registerScrapeGauges(
    metrics.registry,
    {
      rateBudget: parts.rateBudget,
      breakerState: () => parts.digitalocean.breakerState(),
      jobCounts: () => parts.jobs.counts(),
      onboardingCounts: () => countOnboardingStates(parts.authz),
      environmentCounts: () => countEnvironmentStates(parts.authz),
    },
    {
      onError(source, error) {
        metrics.collectErrors.inc({ source });
        // Logged when a source starts failing, not at every scrape of an outage.
        if (failing.has(source)) return;
        failing.add(source);
        setTimeout(() => failing.delete(source), 300_000).unref();
        logger.warn({ err: error, source }, 'a metric could not be read at scrape time');
      },
    },
  );
  const subscription = parts.digitalocean.onBreakerStateChange((state) => {
    if (state === 'open') {
      metrics.doBreakerOpened.inc();
      logger.warn(
        { state },
        'DigitalOcean circuit breaker opened: calls fail fast until a trial call succeeds',
      );
    } else {
      logger.info({ state }, `DigitalOcean circuit breaker is ${state}`);
    }
  });
  return () => subscription.dispose();
}

/** berth's version, from package.json, for `berth_info`. */
export function berthVersion(): string {
  try {
    const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
    return String((JSON.parse(text) as { version?: unknown }).version ?? 'unknown');
  } catch {
    return 'unknown';
  }
}
