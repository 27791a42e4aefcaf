import { randomUUID } from 'node:crypto';
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { batchGate } from '../db/batch-control.js';
import { finishBatch } from '../db/batches.js';
import * as chunks from '../db/chunks.js';
import { getJobTenantSettings } from '../db/tenant-settings.js';
import type { AttemptOutcome, ChunkClaim, ChunkJob } from '../db/chunks.js';
import { FailureTypes } from '../lib/names.js';
import { classifyFailure, jobTypeOrFail } from './failures.js';
import { snapshotOf, type BatchSnapshot } from './batch.js';
import type { ActivityDeps } from './index.js';
import { jobMetrics, jobsEnded } from './job-metrics.js';
import { holderOf, lanePool, leaseTtlMs, slotLease } from './tenant-cap.js';

export interface ChunkArgs {
  batchId: string;
  tenantId: string;
  jobType: string;
  /** A first pass over positions [fromSeq, toSeq)… */
  range?: { fromSeq: number; toSeq: number };
  /** …or a retry round over these jobs… */
  ids?: string[];
  /** …each with the attempts the workflow last heard of (`JobRef.seen`). */
  seen?: number[];
  /** Attempts per job in this run of the batch (counted from the job's retry base). */
  maxAttempts: number;
  concurrency: number;
  /** The batch's failure tolerance as a count; past it the chunk stops taking jobs. */
  failureLimit: number | null;
  /**
   * Set when this chunk holds all of the batch's jobs: if every one of them ends here,
   * the chunk finishes the batch too (one local activity less for a small batch).
   */
  finish?: { epoch: number };
}

/** A job handed back to the workflow. */
export interface JobRef {
  id: string;
  /**
   * The job's attempts counter as this chunk left it. A later chunk that finds it
   * higher knows an earlier try of that chunk recorded an outcome already.
   */
  seen: number;
}

export interface RetryEntry extends JobRef {
  /** Attempts made so far in this run of the batch, the failed one included. */
  attempts: number;
  retryAfterMs?: number;
}

export interface ChunkResult {
  succeeded: number;
  failed: number;
  /** Jobs whose attempt failed and may be retried, for the workflow's backoff timers. */
  retry: RetryEntry[];
  /**
   * Jobs not attempted because the chunk stopped early: the batch was paused, ended,
   * or crossed its failure tolerance. The workflow runs them again after a resume.
   */
  deferred: JobRef[];
  /** The batch's failed counter as of the chunk's last write. */
  batchFailed: number;
  /** The batch as `finish` left it, when this chunk finished it. */
  finished?: BatchSnapshot & { thresholdSet: boolean };
  /** The tenant had no slot free (its cap on jobs in flight): nothing ran, every job is `deferred`. */
  throttled?: boolean;
}

/** Outcomes written per statement; also a heartbeat point. */
const FLUSH_SIZE = 1_000;
/** Slow jobs still show progress this often. */
const FLUSH_INTERVAL_MS = 500;
/** The most positions a chunk claims ahead of its lanes. */
const MAX_CLAIM_WINDOW = 1_000;
/** The error of an attempt that may have run but whose outcome was never recorded. */
const LOST_ATTEMPT_MESSAGE = 'the worker running this attempt stopped (or was timed out) before recording its outcome';

export function createChunkActivities({ sql, registry, log, tenantMaxJobsInFlight }: ActivityDeps) {
  return {
    /**
     * Runs many jobs in one activity, `concurrency` at a time, and writes their
     * outcomes in bulk. Crash-safe: a job's row is the cursor, and the chunk's claim
     * (db/chunks.ts) says which jobs an earlier try may have started. On a retry of
     * this activity, jobs that ended are not loaded again; jobs whose failed attempt
     * was recorded go back to the workflow for their backoff instead of running early;
     * claimed jobs without an outcome get that attempt counted (`AttemptLost`) and go
     * back too. So no attempt runs twice under one number, as in per-activity mode.
     */
    async runChunk(args: ChunkArgs): Promise<ChunkResult> {
      const ctx = Context.current();
      const type = jobTypeOrFail(registry, args.jobType);
      const lanesWanted = Math.max(1, args.concurrency);
      // Positions are claimed a window ahead of the lanes: a crash costs at most this
      // many jobs an attempt they may not have used. The window doubles each time lanes
      // had to wait for a claim (jobs that take no time), up to MAX_CLAIM_WINDOW.
      let window = Math.max(32, 2 * lanesWanted);
      const { workflowExecution: run, activityId } = ctx.info;
      const claim: ChunkClaim = { batchId: args.batchId, chunk: `${run?.workflowId}/${run?.runId}/${activityId}`, owner: randomUUID() };
      // The claim is taken before the jobs are read, so what is read is what the
      // earlier try (if any) left: it can write nothing once this commits.
      const opened = await chunks.openClaim(sql, claim, args.range ? Math.min(args.range.toSeq - 1, args.range.fromSeq + window - 1) : -1);
      let claimedSeq = opened.through;
      const loaded = args.ids
        ? await chunks.loadByIds(sql, args.batchId, args.ids)
        : await chunks.loadRange(sql, args.batchId, args.range!.fromSeq, args.range!.toSeq);
      const seen = new Map(args.ids && args.seen ? args.ids.map((id, i) => [id, args.seen![i]!]) : []);

      const result: ChunkResult = { succeeded: 0, failed: 0, retry: [], deferred: [], batchFailed: 0 };
      const toRun: ChunkJob[] = [];
      const lost: ChunkJob[] = [];
      for (const job of loaded) {
        // An outcome recorded by an earlier try of this chunk: the job waits for its backoff.
        const recorded = args.ids ? job.attempts > (seen.get(job.id) ?? job.attempts) : job.status === 'running' && job.attempts > job.retryBase;
        if (recorded) result.retry.push({ id: job.id, seen: job.attempts, attempts: job.attempts - job.retryBase });
        else if (opened.prior !== null && job.seq <= opened.prior) lost.push(job);
        else toRun.push(job);
      }
      if (lost.length > 0) {
        // Claimed by an earlier try, no outcome: it may have run. Count that attempt as
        // failed (Temporal counts an attempt whose worker died the same way), so the
        // job's next run has a number of its own.
        const outcomes = lost.map((job) =>
          outcome(job.id, job.attempts + 1 - job.retryBase >= args.maxAttempts ? 'failed' : 'running', null, FailureTypes.AttemptLost, LOST_ATTEMPT_MESSAGE),
        );
        const counted = await chunks.recordOutcomes(sql, claim, outcomes);
        if (!counted.owned) throw superseded(claim);
        jobsEnded(counted.succeeded, counted.failed);
        result.failed += counted.failed;
        result.batchFailed = counted.batchFailed;
        lost.forEach((job, i) => {
          if (outcomes[i]!.status === 'running') result.retry.push({ id: job.id, seen: job.attempts + 1, attempts: job.attempts + 1 - job.retryBase });
        });
        log.warn({ batchId: args.batchId, chunk: claim.chunk, lost: lost.length, failed: counted.failed }, 'chunk ran again: attempts that may have run without an outcome were counted');
      }
      // --- tenant cap (activities/tenant-cap.ts): one lane per slot granted; none granted, nothing runs.
      const wanted = Math.max(1, Math.min(args.concurrency, toRun.length));
      const slots = slotLease(sql, { tenantId: args.tenantId, holder: holderOf(ctx.info), ttlMs: leaseTtlMs(ctx.info), defaultCap: tenantMaxJobsInFlight });
      if (toRun.length > 0 && (await slots.acquire(wanted)) === 0) {
        return { ...result, deferred: toRun.map((j) => ({ id: j.id, seen: j.attempts })), throttled: true };
      }
      // --- end tenant cap
      // Set when the chunk must stop taking jobs (it finishes those it started): the
      // batch is paused or no longer running, or its failures passed the tolerance.
      let halt = false;
      const overLimit = (failed: number) => args.failureLimit !== null && failed > args.failureLimit;

      // Local activities (small chunks) cannot heartbeat; their workflow task keeps them alive.
      const beat = () => {
        if (!ctx.info.isLocal) ctx.heartbeat({ done: result.succeeded + result.failed + result.retry.length, of: loaded.length });
      };
      const byId = new Map(toRun.map((j) => [j.id, j]));
      const retryAfter = new Map<string, number>();
      let buffer: AttemptOutcome[] = [];
      // Flushes run one after another; the first error is kept and rethrown at the end
      // (the activity is then retried, and the rows say what is left to do).
      let flushing: Promise<void> = Promise.resolve();
      let flushError: unknown;
      const flush = () => {
        if (buffer.length === 0) return flushing;
        const batch = buffer;
        buffer = [];
        flushing = flushing
          .then(async () => {
            if (flushError !== undefined) return;
            const counted = await chunks.recordOutcomes(sql, claim, batch);
            if (!counted.owned) throw superseded(claim);
            jobsEnded(counted.succeeded, counted.failed);
            result.succeeded += counted.succeeded;
            result.failed += counted.failed;
            result.batchFailed = Math.max(result.batchFailed, counted.batchFailed);
            if (overLimit(counted.batchFailed)) halt = true;
            for (const o of batch) {
              if (o.status !== 'running') continue;
              const after = retryAfter.get(o.id);
              const job = byId.get(o.id)!;
              result.retry.push({
                id: o.id,
                seen: job.attempts + 1,
                attempts: job.attempts + 1 - job.retryBase,
                ...(after !== undefined ? { retryAfterMs: after } : {}),
              });
            }
            beat();
          })
          .catch((err: unknown) => {
            // Nothing more can be recorded: start no more jobs (a retry of the chunk does them).
            flushError ??= err;
            halt = true;
          });
        return flushing;
      };
      // Pause, cancel-by-row and other chunks' failures reach a running chunk through its row.
      const gate = async () => {
        const g = await batchGate(sql, args.batchId);
        if (!g || !g.running || g.paused || overLimit(g.failed)) halt = true;
        if (g) result.batchFailed = Math.max(result.batchFailed, g.failed);
      };
      const liveness = setInterval(() => {
        void flush();
        void gate().catch(() => {});
        beat();
      }, FLUSH_INTERVAL_MS);

      // Read once per chunk, and only if a handler asks.
      let settings: ReturnType<typeof getJobTenantSettings> | undefined;
      const tenantSettings = () => (settings ??= getJobTenantSettings(sql, args.tenantId));

      const metrics = jobMetrics(type.name);
      const runOne = async (job: ChunkJob): Promise<AttemptOutcome> => {
        const attempt = job.attempts + 1;
        const startedAt = performance.now();
        const parsed = type.input.safeParse(job.input);
        if (!parsed.success) {
          return outcome(job.id, 'failed', null, FailureTypes.InvalidJobInput, `input no longer matches the '${type.name}' schema: ${parsed.error.message}`);
        }
        try {
          const output = await type.handler(parsed.data, {
            attempt,
            jobId: job.id,
            batchId: args.batchId,
            tenantId: args.tenantId,
            signal: ctx.cancellationSignal,
            heartbeat: () => {},
            tenantSettings,
            log: (msg, fields) => log.info({ ...fields, jobId: job.id, batchId: args.batchId, attempt }, msg),
          });
          metrics.attempt('succeeded', startedAt);
          return outcome(job.id, 'succeeded', output ?? null, null, null);
        } catch (err) {
          metrics.attempt(ctx.cancellationSignal.aborted ? 'cancelled' : 'failed', startedAt);
          const f = classifyFailure(err, type);
          const final = f.nonRetryable || attempt - job.retryBase >= args.maxAttempts;
          if (!final && f.retryAfterMs !== undefined) retryAfter.set(job.id, f.retryAfterMs);
          return outcome(job.id, final ? 'failed' : 'running', null, f.type, f.message);
        }
      };

      // Claims the positions up to `index + window` (one write for many jobs); lanes wait
      // for it only when they reach the end of what is claimed.
      let claiming: Promise<void> | undefined;
      let stalled = false;
      const claimAhead = (index: number): Promise<void> =>
        (claiming ??= (async () => {
          const last = toRun[Math.min(toRun.length - 1, index + window)]!;
          try {
            if (!(await chunks.extendClaim(sql, claim, last.seq))) throw superseded(claim);
            claimedSeq = Math.max(claimedSeq, last.seq);
          } catch (err) {
            flushError ??= err;
            halt = true;
          } finally {
            claiming = undefined;
            // Lanes ran out of claimed jobs while this write was on its way: claim more next time.
            if (stalled) window = Math.min(MAX_CLAIM_WINDOW, window * 2);
            stalled = false;
          }
        })());

      try {
        let next = 0;
        const lane = async () => {
          while (next < toRun.length && !ctx.cancellationSignal.aborted && !halt) {
            if (toRun[next]!.seq > claimedSeq) {
              stalled = true;
              await claimAhead(next);
              continue;
            }
            // Half a window before the claim runs out, move it on without waiting.
            const ahead = toRun[Math.min(toRun.length - 1, next + (window >> 1))]!;
            if (ahead.seq > claimedSeq) void claimAhead(next);
            const job = toRun[next++]!;
            const o = await runOne(job);
            // An attempt cut short by a cancel is not an attempt: leave the job as it was.
            if (ctx.cancellationSignal.aborted && o.status !== 'succeeded') continue;
            buffer.push(o);
            if (buffer.length >= FLUSH_SIZE) void flush();
          }
        };
        // --- tenant cap: lanes start as slots are granted (now, and on later ticks while
        // short of `wanted`).
        let closed = false;
        // A chunk's lanes finish within one job of each other, so its slots all go back at
        // the end, in one statement (see finally).
        const pool = lanePool(lane);
        const topUp = async () => {
          await slots.renewSoon();
          const want = Math.min(wanted - pool.size, toRun.length - next);
          if (closed || halt || ctx.cancellationSignal.aborted || want <= 0) return;
          const more = await slots.acquire(want);
          if (!closed) pool.add(more);
        };
        const capTick = setInterval(() => void topUp().catch(() => {}), FLUSH_INTERVAL_MS);
        pool.add(slots.held);
        try {
          await pool.drained();
        } finally {
          closed = true;
          clearInterval(capTick);
        }
        // --- end tenant cap
        await claiming;
        await flush();
        result.deferred = toRun.slice(next).map((j) => ({ id: j.id, seen: j.attempts }));
      } finally {
        clearInterval(liveness);
        // Tenant cap: every slot still held goes back (a failed release lapses with the lease).
        await slots.release().catch((err: unknown) => log.warn({ err, batchId: args.batchId }, 'tenant slots not released; they lapse with the lease'));
      }
      if (flushError !== undefined) throw flushError;
      if (ctx.cancellationSignal.aborted) throw new CancelledFailure('chunk cancelled');
      if (args.finish && !halt && result.retry.length === 0 && result.deferred.length === 0) {
        const row = await finishBatch(sql, args.batchId, args.finish.epoch, { onlyIfAllEnded: true });
        if (row) result.finished = { ...snapshotOf(row), thresholdSet: row.thresholdSet };
      }
      return result;
    },
  };
}

/** This try lost the chunk's claim to a later try, which now does its work. */
function superseded(claim: ChunkClaim): ApplicationFailure {
  return ApplicationFailure.create({
    type: FailureTypes.AttemptSuperseded,
    nonRetryable: true,
    message: `chunk ${claim.chunk} was taken over by a later try; this one stops`,
  });
}

function outcome(
  id: string,
  status: AttemptOutcome['status'],
  output: unknown,
  errorType: string | null,
  errorMessage: string | null,
): AttemptOutcome {
  return { id, status, output, errorType, errorMessage };
}
