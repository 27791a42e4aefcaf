/**
 * One job's attempt inside a chunk (activities/chunk.ts): its input checked against the
 * type's schema, its handler run on a lane's clock, and its outcome as a chunk writes it
 * (`succeeded`, `failed` for good, or `running` for a failure to retry after its backoff).
 * Failures are classified as in per-activity mode (activities/failures.ts), so attempts
 * and errors read the same whichever mode ran them.
 */
import type { Sql } from '../db/client.js';
import type { AttemptOutcome, ChunkJob } from '../db/chunks.js';
import { getJobTenantSettings } from '../db/tenant-settings.js';
import type { JobContext, JobType } from '../job-types/job-type.js';
import type { Logger } from '../lib/logger.js';
import { FailureTypes } from '../lib/names.js';
import type { AttemptClock } from './attempt-clock.js';
import { outcome } from './chunk-contract.js';
import { classifyFailure } from './failures.js';
import { jobMetrics } from './job-metrics.js';

/** A retryable failure whose outcome is not written yet: when it failed, and the handler's own retry-after. */
export interface PendingRetry {
  at: number;
  retryAfterMs: number | undefined;
}

export interface ChunkAttempts {
  /** One attempt of `job` on a lane's clock; undefined once the clock gave up on it (its outcome is recorded already). */
  run(job: ChunkJob, clock: AttemptClock<ChunkJob>): Promise<AttemptOutcome | undefined>;
  /** A failed attempt's outcome: final, or to be retried after its backoff (noted in `failures` until written). */
  failed(job: ChunkJob, err: unknown, startedAt: number): AttemptOutcome;
}

export function chunkAttempts(
  sql: Sql,
  o: {
    type: JobType;
    cancelled: AbortSignal;
    batchId: string;
    tenantId: string;
    maxAttempts: number;
    log: Logger;
    /** Each retryable failure, by job id, until its outcome is written. */
    failures: Map<string, PendingRetry>;
  },
): ChunkAttempts {
  const { type, batchId, tenantId, log } = o;
  const metrics = jobMetrics(type.name);
  // Read once per chunk, and only if a handler asks.
  let settings: ReturnType<typeof getJobTenantSettings> | undefined;
  const tenantSettings = () => (settings ??= getJobTenantSettings(sql, tenantId));

  const failed = (job: ChunkJob, err: unknown, startedAt: number): AttemptOutcome => {
    metrics.attempt(o.cancelled.aborted ? 'cancelled' : 'failed', startedAt);
    const f = classifyFailure(err, type);
    const final = f.nonRetryable || job.attempts + 1 - job.retryBase >= o.maxAttempts;
    if (!final) o.failures.set(job.id, { at: Date.now(), retryAfterMs: f.retryAfterMs });
    return outcome(job, final ? 'failed' : 'running', null, f.type, f.message);
  };

  const run = async (job: ChunkJob, clock: AttemptClock<ChunkJob>): Promise<AttemptOutcome | undefined> => {
    const attempt = job.attempts + 1;
    const startedAt = performance.now();
    const parsed = type.input.safeParse(job.input);
    if (!parsed.success) {
      return outcome(job, 'failed', null, FailureTypes.InvalidJobInput, `input no longer matches the '${type.name}' schema: ${parsed.error.message}`);
    }
    clock.job = job;
    clock.since = startedAt;
    let output: unknown;
    try {
      output = await type.handler(parsed.data, {
        attempt,
        jobId: job.id,
        batchId,
        tenantId,
        signal: clock.signal,
        heartbeat: noHeartbeat,
        tenantSettings,
        log: jobLog(log, batchId, job.id, attempt),
      });
    } catch (err) {
      clock.job = undefined;
      return clock.abandoned ? undefined : failed(job, err, startedAt);
    }
    clock.job = undefined;
    if (clock.abandoned) return undefined;
    metrics.attempt('succeeded', startedAt);
    return outcome(job, 'succeeded', output ?? null, null, null);
  };

  return { run, failed };
}

/**
 * Per-job functions of a handler's context are made outside the job's object literal:
 * inline, each would be named after its key, and under tsx (esbuild's keepNames) naming
 * a function is a call that defines its `name` property: two for every job, about 9% of
 * the worker's CPU over W1 chunked at 300,000 jobs (`__name` in a CPU profile). A
 * returned arrow has no name to keep.
 */
const noHeartbeat: JobContext['heartbeat'] = () => {};
function jobLog(log: Logger, batchId: string, jobId: string, attempt: number): JobContext['log'] {
  return (msg, fields) => log.info({ ...fields, jobId, batchId, attempt }, msg);
}
