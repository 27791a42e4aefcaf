/** Pieces the batch workflows share: activity proxies, tallies and the range contract. */
import { proxyLocalActivities, type ActivityOptions, type LocalActivityOptions } from '@temporalio/workflow';
import type { Activities, BatchSnapshot, BatchPlan, ChunkResult } from '../activities/index.js';
import { NON_RETRYABLE_FAILURE_TYPES } from '../lib/names.js';
import type { RunControl } from './control.js';

export interface Tally {
  succeeded: number;
  failed: number;
  cancelled: number;
}

/** One stretch of a batch's jobs, by position: [fromSeq, toSeq). */
export interface RangeRun {
  batchId: string;
  tenantId: string;
  plan: BatchPlan;
  /** Where this run starts (after a continue-as-new, past the start of the range). */
  cursor: number;
  toSeq: number;
  /**
   * Live: pause, concurrency (jobs in flight at most, for this range) and the failure
   * tolerance, changed by updates or the parent's signals while the range runs.
   */
  control: RunControl;
  tally: Tally;
  /** Live count of jobs in flight, for the progress query. */
  onInFlight(n: number): void;
  /** Set when this range is the whole batch: a chunk that ends all of it may finish the batch. */
  finishEpoch?: number;
  /** The whole range run as one chunk by startBatch (a small batch): only its retries are left. */
  firstChunk?: ChunkResult | undefined;
  /** Local mode: jobs between attempts when the run before continued as new. */
  retries?: HeldRetry[] | undefined;
}

/**
 * A local-mode job between two attempts (workflows/local.ts), carried over a
 * continue-as-new: its position, the attempts it has made, and when it may run again
 * (the workflow's clock).
 */
export interface HeldRetry {
  seq: number;
  attempts: number;
  readyAt: number;
}

/**
 * A range either ran to its end (`finished`: the batch too, by its last chunk), or
 * stopped early for a continue-as-new at `continueFrom`.
 */
export type RangeEnd =
  | { done: true; finished?: BatchSnapshot & { thresholdSet: boolean } }
  /** `retries`: local mode's jobs between attempts, when there are any. */
  | { done: false; continueFrom: number; retries?: HeldRetry[] };

/**
 * Bookkeeping activities are short, idempotent SQL statements: local activities keep
 * them off the task queue and out of the server's round trips, which is most of a small
 * batch's latency. They retry until the database answers.
 */
export const BOOKKEEPING_OPTIONS = {
  startToCloseTimeout: '1 minute',
  localRetryThreshold: '10 seconds',
  retry: {
    initialInterval: '200 ms',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURE_TYPES],
  },
} satisfies LocalActivityOptions;
export const bookkeeping = proxyLocalActivities<Activities>(BOOKKEEPING_OPTIONS);

/** The batch's retry policy as Temporal's, for one-activity-per-job mode. */
export function jobActivityOptions(plan: BatchPlan): ActivityOptions {
  return {
    startToCloseTimeout: plan.policy.timeoutMs,
    heartbeatTimeout: plan.policy.heartbeatTimeoutMs,
    retry: jobRetryPolicy(plan),
  };
}

/**
 * The same for one local activity per job (`local` mode): no heartbeat timeout (its
 * worker runs the workflow task too). Runs since the patch local-wave-retries dispatch
 * each attempt on its own (maximumAttempts 1) and hold a failed job themselves
 * (workflows/local.ts); in runs before it, attempts after a backoff of up to 10 s were
 * retried in the worker, longer ones after a durable timer.
 */
export function jobLocalActivityOptions(plan: BatchPlan): LocalActivityOptions {
  return { startToCloseTimeout: plan.policy.timeoutMs, retry: jobRetryPolicy(plan), localRetryThreshold: '10 seconds' };
}

function jobRetryPolicy(plan: BatchPlan): NonNullable<ActivityOptions['retry']> {
  return {
    maximumAttempts: plan.maxRetries + 1,
    initialInterval: plan.retry.initialIntervalMs,
    backoffCoefficient: plan.retry.coefficient,
    maximumInterval: plan.retry.maximumIntervalMs,
    nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURE_TYPES, ...plan.policy.nonRetryableErrorTypes],
  };
}

/**
 * The workflow's clock. Date.now() in workflows/ goes against the lint rule, but in a
 * workflow it is the activation's time, replayed as recorded (the sandbox fixes it), and
 * nothing else gives the time now.
 */
// eslint-disable-next-line no-restricted-syntax
export const now = () => Date.now();

/** The same backoff Temporal applies, for chunked mode's durable timers. */
export function backoffMs(plan: BatchPlan, attemptsMade: number): number {
  const delay = plan.retry.initialIntervalMs * plan.retry.coefficient ** Math.max(0, attemptsMade - 1);
  return Math.min(delay, plan.retry.maximumIntervalMs);
}

export function countStatus(tally: Tally, status: string): void {
  if (status === 'succeeded' || status === 'failed' || status === 'cancelled') tally[status]++;
}
