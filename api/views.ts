import type { BatchRow } from '../db/batches.js';
import type { JobRow } from '../db/jobs.js';

/** The public shape of a batch. */
export function batchView(row: BatchRow, links: { self: string; jobs: string; temporalUi: string }) {
  return {
    id: row.id,
    type: row.jobType,
    mode: row.mode,
    status: row.status,
    concurrency: row.concurrency,
    /** A paused batch keeps status `running`; dispatch is held until it is resumed. */
    paused: row.pausedAt !== null,
    pausedAt: row.pausedAt?.toISOString() ?? null,
    toleratedFailures: row.toleratedFailuresPercent !== null ? `${row.toleratedFailuresPercent}%` : row.toleratedFailures,
    redrives: row.redrives,
    maxRetries: row.maxRetries,
    backoff: {
      initialIntervalMs: row.retryInitialIntervalMs,
      coefficient: row.retryBackoffCoefficient,
      maximumIntervalMs: row.retryMaximumIntervalMs,
    },
    ...countersAndProgress(row),
    createdAt: row.createdAt.toISOString(),
    startedAt: row.startedAt?.toISOString() ?? null,
    completedAt: row.completedAt?.toISOString() ?? null,
    durationMs: row.durationMs,
    workflowId: row.workflowId,
    links,
  };
}

export function jobView(row: JobRow) {
  return {
    id: row.id,
    index: row.seq,
    status: row.status,
    attempts: row.attempts,
    input: row.input,
    output: row.output,
    lastError: row.errorType ? { type: row.errorType, message: row.errorMessage } : null,
    startedAt: row.startedAt?.toISOString() ?? null,
    completedAt: row.completedAt?.toISOString() ?? null,
  };
}

/** Counters and progress of a batch row: the figures every batch answer and event carries. */
export function countersAndProgress(row: BatchRow) {
  const processed = row.succeededJobs + row.failedJobs + row.cancelledJobs;
  return {
    counters: {
      total: row.totalJobs,
      succeeded: row.succeededJobs,
      failed: row.failedJobs,
      cancelled: row.cancelledJobs,
      remaining: row.totalJobs - processed,
    },
    progress: {
      processed,
      total: row.totalJobs,
      percent: row.totalJobs === 0 ? 100 : Math.floor((processed * 10_000) / row.totalJobs) / 100,
    },
  };
}
