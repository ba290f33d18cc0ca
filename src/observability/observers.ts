/**
 * The observers berth's parts are given, recording into the metrics. Each part declares a
 * plain interface of what it reports (the cache its hits, the transport its DigitalOcean
 * calls, the queue its job runs, the vault its operations); only this module knows that
 * the reports become Prometheus series, so the domain code never imports prom-client.
 */

import type { TransportObserver } from '../digitalocean/client/index.ts';
import type { JobObserver } from '../jobs/runner.ts';
import type { DeployKeyObserver } from '../services/deployment-keys.ts';
import type { DropletAccessObserver } from '../services/droplet-access.ts';
import type { DeployObserver } from '../services/environments/provisioner.ts';
import type { CacheObserver } from '../services/key-cache.ts';
import type { KeyListCacheObserver } from '../services/key-list-cache.ts';
import type { VaultObserver } from '../store/secrets.ts';
import type { Metrics } from './metrics.ts';

/** What the HTTP middleware reports per request. */
export interface HttpObserver {
  request(request: { method: string; route: string; status: number; seconds: number }): void;
}

export interface Observers {
  cache: CacheObserver;
  keyLists: KeyListCacheObserver;
  /** Whether the key-change bus hears changes. */
  keyChangesHeard(listening: boolean): void;
  deployKeys: DeployKeyObserver;
  deploys: DeployObserver;
  dropletAccess: DropletAccessObserver;
  digitalocean: TransportObserver;
  jobs: JobObserver;
  vault: VaultObserver;
  http(listener: 'public' | 'internal' | 'droplet'): HttpObserver;
}

const ID_SEGMENT = /^(?:\d+|[0-9a-f]{2}(?::[0-9a-f]{2})+|[0-9a-f-]{32,36}|[0-9a-f]{40,64})$/i;

/**
 * A DigitalOcean request's endpoint as a label: the method and the path with ids,
 * fingerprints and hashes replaced by `{id}`, so a label value names an endpoint, not a
 * droplet (one series per droplet would grow without end).
 */
export function endpointLabel(method: string, path: string): string {
  const template = path
    .split('/')
    .map((segment) => (ID_SEGMENT.test(decodeURIComponent(segment)) ? '{id}' : segment))
    .join('/');
  return `${method} ${template}`;
}

export function createObservers(metrics: Metrics): Observers {
  const seenQueues = new Set<string>();
  const initQueue = (queue: string) => {
    if (seenQueues.has(queue)) return;
    seenQueues.add(queue);
    for (const outcome of ['completed', 'failed', 'dead']) metrics.jobRuns.inc({ queue, outcome }, 0);
  };
  return {
    cache: {
      hit: (layer) => metrics.keyCache.inc({ result: `hit_${layer}` }),
      miss: () => metrics.keyCache.inc({ result: 'miss' }),
    },
    keyLists: {
      hit: () => {
        metrics.keyListReads.hit++;
      },
      miss: () => {
        metrics.keyListReads.miss++;
      },
    },
    keyChangesHeard: (listening) => metrics.keyChangeBusListening.set(listening ? 1 : 0),
    deployKeys: {
      keysReady: (path, seconds) => metrics.deployKeyOverhead.observe({ path }, seconds),
    },
    deploys: {
      deployFinished(outcome, path, seconds) {
        metrics.deploys.inc({ outcome, path });
        metrics.deployDuration.observe({ path }, seconds);
      },
    },
    dropletAccess: {
      lookup: (outcome, seconds) => metrics.dropletKeyLookups.observe({ outcome }, seconds),
    },
    digitalocean: {
      call({ method, path, status, seconds }) {
        const endpoint = endpointLabel(method, path);
        metrics.doRequests.inc({ endpoint, status: String(status) });
        metrics.doLatency.observe({ endpoint }, seconds);
        if (status === 429) metrics.doRateLimited.inc();
      },
      refused: ({ reason }) => metrics.doRefused.inc({ reason }),
    },
    jobs: {
      queuesStarted(queues) {
        for (const queue of queues) initQueue(queue);
      },
      jobFinished(queue, outcome, seconds) {
        initQueue(queue);
        metrics.jobRuns.inc({ queue, outcome });
        metrics.jobDuration.observe({ queue, outcome }, seconds);
      },
    },
    vault: {
      operation: (operation, outcome) => metrics.vaultOperations.inc({ operation, outcome }),
    },
    http: (listener) => ({
      request: ({ method, route, status, seconds }) =>
        metrics.http.observe(listener, method, route, status, seconds),
    }),
  };
}
