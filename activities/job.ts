import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import type { Sql } from '../db/client.js';
import * as attempts from '../db/job-attempts.js';
import * as jobs from '../db/jobs.js';
import { tenantOfJob } from '../db/tenant-slots.js';
import { getJobTenantSettings } from '../db/tenant-settings.js';
import { groupCommit } from '../lib/group-commit.js';
import { FailureTypes, type JobStatus } from '../lib/names.js';
import { ATTEMPT_STATEMENT_TIMEOUT_MS, classifyFailure, MAX_ERROR_MESSAGE, statementTimeout, toApplicationFailure, jobTypeOrFail } from './failures.js';
import type { ActivityDeps } from './index.js';
import { jobMetrics, jobsEnded } from './job-metrics.js';
import { slotPools } from './tenant-cap.js';

/** A local activity's heartbeat: nothing to send it to. */
const noHeartbeat = () => {};

/**
 * Statements of one kind running at once (lib/group-commit.ts): attempts that start or
 * end while they run are written together by the next. One at a time ran a few percent
 * faster (fewer, larger statements), but a statement that hangs (a connection the
 * server dropped) then holds every attempt of the kind until its timeout; with two, the
 * other goes on (docs/performance.md, session 13).
 */
const ATTEMPT_STATEMENTS_IN_FLIGHT = 2;
/** The most attempts one statement writes. */
const ATTEMPTS_PER_STATEMENT = 500;

/**
 * The attempt statements of db/job-attempts.ts, written in groups: one statement for
 * the attempts of many jobs (per-activity and local modes run one attempt per activity,
 * up to the concurrency at once).
 */
export function attemptStatements(sql: Sql) {
  const options = {
    maxInFlight: ATTEMPT_STATEMENTS_IN_FLIGHT,
    maxBatch: ATTEMPTS_PER_STATEMENT,
    timeoutMs: ATTEMPT_STATEMENT_TIMEOUT_MS,
    timeout: statementTimeout,
  };
  return {
    start: groupCommit((ids: readonly string[]) => attempts.startAttempts(sql, ids), { ...options, rowOf: (id) => id }),
    recordError: groupCommit(
      async (errors: readonly attempts.AttemptError[]) => {
        await attempts.recordAttemptErrors(sql, errors);
        return errors.map(() => undefined);
      },
      { ...options, rowOf: (e) => e.jobId },
    ),
    succeed: groupCommit((successes: readonly attempts.AttemptSuccess[]) => attempts.succeedJobs(sql, successes), { ...options, rowOf: (s) => s.jobId }),
  };
}

export interface JobOutcome {
  /**
   * The job's status after this call: its earlier outcome when it had ended already;
   * `throttled` when its tenant had no slot free (the job was not touched).
   */
  status: JobStatus | 'throttled';
  /** With `throttled`: Temporal attempts of this activity spent before it (earlier attempts of the job). */
  attemptsSpent?: number;
  /** Local activities only: when the attempt ended, by the worker's clock (epoch ms), for the run's waves (workflows/local.ts). */
  endedAt?: number;
}

export interface FailedJobOutcome {
  status: JobStatus;
  /** The batch's failed counter after this call, for the failure tolerance. */
  batchFailed: number;
}

export function createJobActivities({ sql, registry, log, tenantMaxJobsInFlight }: ActivityDeps) {
  const poolOf = slotPools(sql, tenantMaxJobsInFlight);
  const statements = attemptStatements(sql);
  /**
   * One attempt of one job: record the start, run the handler, record the outcome.
   * A job that has ended already (an earlier attempt finished but its worker died
   * before telling Temporal) is not run again: its status comes back as it is.
   */
  const runAttempt = async (ctx: Context, jobId: string): Promise<JobOutcome> => {
    const attempt = await statements.start(jobId);
    if (!attempt) {
      throw ApplicationFailure.create({ type: FailureTypes.NotFound, nonRetryable: true, message: `job ${jobId} no longer exists` });
    }
    if (!attempt.started) return { status: attempt.status };

    const type = jobTypeOrFail(registry, attempt.jobType);
    const parsed = type.input.safeParse(attempt.input);
    if (!parsed.success) {
      const message = `input no longer matches the '${type.name}' schema: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`;
      await statements.recordError({ jobId, attempt: attempt.attempts, errorType: FailureTypes.InvalidJobInput, errorMessage: message });
      throw ApplicationFailure.create({ type: FailureTypes.InvalidJobInput, nonRetryable: true, message });
    }

    // Heartbeats prove the worker is alive and carry cancellation in; handlers that
    // never heartbeat themselves still get both. A local activity (`local` mode) has
    // neither need: its worker runs the workflow task too, and hands it a cancel itself.
    const local = ctx.info.isLocal;
    const every = Math.max(200, Math.floor(type.policy.heartbeatTimeoutMs / 3));
    const beat = local ? undefined : setInterval(() => ctx.heartbeat(), every);
    const jobLog = log.child({ jobId, batchId: attempt.batchId, tenantId: attempt.tenantId, attempt: attempt.attempts, workflowId: ctx.info.workflowExecution?.workflowId });
    const metrics = jobMetrics(type.name);
    const startedAt = performance.now();
    let output: unknown;
    try {
      try {
        output = await type.handler(parsed.data, {
          attempt: attempt.attempts,
          jobId,
          batchId: attempt.batchId,
          tenantId: attempt.tenantId,
          signal: ctx.cancellationSignal,
          heartbeat: local ? noHeartbeat : (details) => ctx.heartbeat(details),
          log: (msg, fields) => jobLog.info(fields ?? {}, msg),
          tenantSettings: () => getJobTenantSettings(sql, attempt.tenantId),
        });
        metrics.attempt('succeeded', startedAt);
      } catch (err) {
        metrics.attempt(ctx.cancellationSignal.aborted ? 'cancelled' : 'failed', startedAt);
        if (ctx.cancellationSignal.aborted) {
          throw err instanceof CancelledFailure ? err : new CancelledFailure('job attempt cancelled');
        }
        const failure = classifyFailure(err, type);
        await statements.recordError({ jobId, attempt: attempt.attempts, errorType: failure.type, errorMessage: failure.message });
        throw toApplicationFailure(failure);
      }
      const ended = await statements.succeed({ jobId, attempt: attempt.attempts, output: output ?? null });
      const status = ended?.status;
      if (status === 'running') {
        // A later attempt of this job has started (Temporal timed this one out while
        // it ran, e.g. a missed heartbeat): the later attempt's outcome is the job's,
        // and Temporal drops this one's result.
        throw ApplicationFailure.create({
          type: FailureTypes.AttemptSuperseded,
          message: `attempt ${attempt.attempts} of job ${jobId} was superseded by a later attempt`,
        });
      }
      // Counted once: a repeated write (an activity retried after it) ends nothing.
      if (ended?.ended) jobsEnded(1, 0);
      return { status: status ?? 'succeeded' };
    } finally {
      // Heartbeats go on until the outcome is written: a slow write is not a dead worker.
      clearInterval(beat);
    }
  };

  return {
    /**
     * One attempt of one job (see runAttempt), under the tenant's cap on jobs in flight:
     * a slot is taken (from the worker's pool for the tenant, activities/tenant-cap.ts)
     * before the attempt starts, so a dispatch without a free slot is not an attempt. It
     * comes back `throttled` and the workflow dispatches it again later. A job that is
     * gone runs without one (and fails as it always did).
     */
    async runJob({ jobId, tenantId }: { jobId: string; tenantId?: string }): Promise<JobOutcome> {
      const ctx = Context.current();
      // Workflows that did not pass the tenant: look it up.
      const tenant = tenantId ?? (await tenantOfJob(sql, jobId));
      const pool = tenant === undefined ? undefined : poolOf(tenant);
      if (pool && !(await pool.take())) return { status: 'throttled', attemptsSpent: ctx.info.attempt - 1 };
      try {
        const outcome = await runAttempt(ctx, jobId);
        // A local activity's result is recorded in the history: the worker's clock there is replayed as it was.
        return ctx.info.isLocal ? { ...outcome, endedAt: Date.now() } : outcome;
      } finally {
        pool?.give();
      }
    },

    /** Ends a job whose last attempt failed (or timed out) and counts it. Idempotent. */
    async failJob(args: { jobId: string; errorType: string; errorMessage: string; epoch: number }): Promise<FailedJobOutcome> {
      const ended = await jobs.failJob(sql, args.jobId, args.errorType, args.errorMessage.slice(0, MAX_ERROR_MESSAGE), args.epoch);
      if (ended?.ended) jobsEnded(0, 1);
      return { status: ended?.status ?? 'failed', batchFailed: ended?.batchFailed ?? 0 };
    },
  };
}
