/**
 * How states and times read to a person: the environment states berth reports, grouped
 * into what the UI does with them (still moving, live, gone, failed), and dates.
 */
import type { ToolEnvironment } from '../api/client.ts';

export type EnvironmentState = ToolEnvironment['status'];

/** States that change by themselves soon: the UI polls quickly while in one. */
export const MOVING: ReadonlySet<EnvironmentState> = new Set([
  'pending_creation',
  'creating',
  'pending_deletion',
  'deleting',
]);

/** States from which berth accepts a tear-down (a droplet may exist, or a failure to clear). */
export const CAN_TEAR_DOWN: ReadonlySet<EnvironmentState> = new Set([
  'pending_creation',
  'creating',
  'active',
  'error_creation',
  'unresponsive',
  'error_deletion',
]);

/** Deploy is offered with no environment, after a tear-down, and to retry a failed deploy. */
export function canDeploy(state: EnvironmentState | null | undefined): boolean {
  return !state || state === 'deleted' || state === 'error_creation';
}

export const STATE_LABELS: Record<EnvironmentState, string> = {
  pending_creation: 'Queued',
  creating: 'Creating droplet',
  active: 'Active',
  error_creation: 'Deploy failed',
  pending_deletion: 'Tear-down queued',
  deleting: 'Tearing down',
  deleted: 'Torn down',
  error_deletion: 'Tear-down failed',
  unresponsive: 'Unresponsive',
};

export type Tone = 'neutral' | 'progress' | 'good' | 'warn' | 'bad';

export function stateTone(state: EnvironmentState): Tone {
  if (state === 'active') return 'good';
  if (MOVING.has(state)) return 'progress';
  if (state === 'unresponsive') return 'warn';
  if (state === 'error_creation' || state === 'error_deletion') return 'bad';
  return 'neutral';
}

/**
 * How often to ask for an environment's state: every `fastMs` while it moves, fifteen
 * times less often while it is live (the reconciler may mark it unresponsive), never once
 * it is gone or failed.
 */
export function pollInterval(state: EnvironmentState | null | undefined, fastMs = 1000): number | false {
  if (!state) return false;
  if (MOVING.has(state)) return fastMs;
  if (state === 'active' || state === 'unresponsive') return fastMs * 15;
  return false;
}

export function formatDate(iso: string): string {
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}
