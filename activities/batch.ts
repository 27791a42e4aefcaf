import { ApplicationFailure } from '@temporalio/activity';
import * as batches from '../db/batches.js';
import { setBatchControl } from '../db/batch-control.js';
import type { BatchRow } from '../db/batches.js';
import * as jobs from '../db/jobs.js';
import type { ExecutionMode, JobPolicy } from '../job-types/job-type.js';
import { FailureTypes, type BatchStatus } from '../lib/names.js';
import { jobTypeOrFail } from './failures.js';
import type { ActivityDeps } from './index.js';

/** Counters as the workflow sees them; the database row is the record. */
export interface BatchSnapshot {
  status: BatchStatus;
  /**
   * The batch's redrive count when read. Writes that end a batch or a job carry it and
   * apply only while it still holds: a local activity re-run after a failed workflow
   * task cannot undo a redrive that came in between.
   */
  epoch: number;
  total: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  startedAt: string | null;
  completedAt: string | null;
}

/** What a batch workflow needs to run: ids, numbers and policy, never payloads. */
export interface BatchPlan extends BatchSnapshot {
  jobType: string;
  mode: ExecutionMode;
  concurrency: number;
  /** Paused when this run started (recorded on the row by an earlier run's pause). */
  paused: boolean;
  /** Failures tolerated, as a count of this batch's jobs; null: any number. */
  failureLimit: number | null;
  maxRetries: number;
  retry: { initialIntervalMs: number; coefficient: number; maximumIntervalMs: number };
  policy: Pick<JobPolicy, 'mode' | 'timeoutMs' | 'heartbeatTimeoutMs' | 'nonRetryableErrorTypes'>;
}

export const snapshotOf = (row: BatchRow): BatchSnapshot => ({
  status: row.status,
  epoch: row.redrives,
  total: row.totalJobs,
  succeeded: row.succeededJobs,
  failed: row.failedJobs,
  cancelled: row.cancelledJobs,
  startedAt: row.startedAt?.toISOString() ?? null,
  completedAt: row.completedAt?.toISOString() ?? null,
});

const batchGone = (batchId: string) =>
  ApplicationFailure.create({
    type: FailureTypes.NotFound,
    nonRetryable: true,
    message: `batch ${batchId} no longer exists (deleted?)`,
  });

/** The tolerance as a number of jobs: a percentage rounds down (10% of 25 jobs tolerates 2). */
export function failureLimitOf(row: Pick<BatchRow, 'toleratedFailures' | 'toleratedFailuresPercent' | 'totalJobs'>): number | null {
  if (row.toleratedFailures !== null) return row.toleratedFailures;
  if (row.toleratedFailuresPercent !== null) return Math.floor((row.totalJobs * row.toleratedFailuresPercent) / 100);
  return null;
}

export function createBatchActivities({ sql, registry }: ActivityDeps) {
  return {
    /** pending → running (once) and the plan the workflow follows. */
    async startBatch({ batchId }: { batchId: string }): Promise<BatchPlan> {
      const row = await batches.markBatchRunning(sql, batchId);
      if (!row) throw batchGone(batchId);
      const type = jobTypeOrFail(registry, row.jobType);
      return {
        ...snapshotOf(row),
        jobType: row.jobType,
        mode: row.mode,
        concurrency: row.concurrency,
        paused: row.pausedAt !== null,
        failureLimit: failureLimitOf(row),
        maxRetries: row.maxRetries,
        retry: {
          initialIntervalMs: row.retryInitialIntervalMs,
          coefficient: row.retryBackoffCoefficient,
          maximumIntervalMs: row.retryMaximumIntervalMs,
        },
        policy: {
          mode: type.policy.mode,
          timeoutMs: type.policy.timeoutMs,
          heartbeatTimeoutMs: type.policy.heartbeatTimeoutMs,
          nonRetryableErrorTypes: type.policy.nonRetryableErrorTypes,
        },
      };
    },

    async listPendingJobs(args: { batchId: string; afterSeq: number; beforeSeq: number; limit: number }) {
      return jobs.listPendingJobIds(sql, args.batchId, args, args.limit);
    },

    /** running → completed / partial / failed, from the counters. Idempotent. */
    async finishBatch({ batchId, epoch }: { batchId: string; epoch: number }): Promise<BatchSnapshot & { thresholdSet: boolean }> {
      const row = await batches.finishBatch(sql, batchId, epoch);
      if (!row) throw batchGone(batchId);
      return { ...snapshotOf(row), thresholdSet: row.thresholdSet };
    },

    /** Failure tolerance crossed: unfinished jobs → cancelled, batch → failed. Idempotent. */
    async abortBatch({ batchId, epoch }: { batchId: string; epoch: number }): Promise<BatchSnapshot> {
      const row = await batches.abortBatch(sql, batchId, epoch);
      if (!row) throw batchGone(batchId);
      return snapshotOf(row);
    },

    /** Records a pause, resume or concurrency change on the row (from the workflow's update handlers). */
    async setBatchControl(args: { batchId: string; paused: boolean; concurrency: number }): Promise<void> {
      await setBatchControl(sql, args.batchId, args);
    },

    /** Unfinished jobs → cancelled, batch → cancelled. Idempotent. */
    async cancelBatch({ batchId, epoch }: { batchId: string; epoch?: number | undefined }): Promise<BatchSnapshot> {
      const row = await batches.cancelBatch(sql, batchId, epoch);
      if (!row) throw batchGone(batchId);
      return snapshotOf(row);
    },
  };
}
