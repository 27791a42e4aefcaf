import { ApplicationFailure } from '@temporalio/activity';
import * as batches from '../db/batches.js';
import { setBatchControl } from '../db/batch-control.js';
import type { BatchRow } from '../db/batches.js';
import * as jobs from '../db/jobs.js';
import type { ExecutionMode, JobPolicy } from '../job-types/job-type.js';
import { chunkLanes, LOCAL_CHUNK_MAX } from '../lib/chunk-shape.js';
import { FailureTypes, type BatchStatus } from '../lib/names.js';
import type { ChunkArgs, ChunkResult } from './chunk-contract.js';
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
  /** Set when startBatch ran the batch's jobs itself (`runSmall`): that chunk's result. */
  firstChunk?: ChunkResult;
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

/** The plan of a batch row, for its workflow. */
function planOf(row: BatchRow, registry: ActivityDeps['registry']): BatchPlan {
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
}

/** `runChunk`: the chunk activity (activities/chunk.ts), for a small batch's jobs. */
export function createBatchActivities({ sql, registry }: ActivityDeps, runChunk: (args: ChunkArgs) => Promise<ChunkResult>) {
  return {
    /**
     * pending → running (once) and the plan the workflow follows. `runSmall`: a running,
     * unpaused chunked batch of at most LOCAL_CHUNK_MAX jobs has them run here too, as
     * the one chunk runChunk would run (`firstChunk`), finishing the batch when they all end.
     */
    async startBatch({ batchId, runSmall }: { batchId: string; runSmall?: boolean }): Promise<BatchPlan> {
      const row = await batches.markBatchRunning(sql, batchId);
      if (!row) throw batchGone(batchId);
      const plan = planOf(row, registry);
      if (runSmall && plan.status === 'running' && !plan.paused && plan.mode === 'chunk' && plan.total > 0 && plan.total <= LOCAL_CHUNK_MAX) {
        plan.firstChunk = await runChunk({
          batchId,
          tenantId: row.tenantId,
          jobType: row.jobType,
          range: { fromSeq: 0, toSeq: plan.total },
          maxAttempts: plan.maxRetries + 1,
          concurrency: chunkLanes(plan.concurrency),
          failureLimit: plan.failureLimit,
          finish: { epoch: plan.epoch },
          byPosition: true,
        });
      }
      return plan;
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
