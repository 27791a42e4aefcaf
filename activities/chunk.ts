import { CancelledFailure, Context } from '@temporalio/activity';
import { batchGate } from '../db/batch-control.js';
import { finishBatch } from '../db/batches.js';
import * as chunks from '../db/chunks.js';
import type { AttemptOutcome, ChunkJob } from '../db/chunks.js';
import { FailureTypes } from '../lib/names.js';
import { AttemptClock } from './attempt-clock.js';
import { chunkAttempts, type PendingRetry } from './chunk-attempt.js';
import { answered, jobTypeOrFail } from './failures.js';
import { snapshotOf } from './batch.js';
import { claimOf, LOST_ATTEMPT_MESSAGE, openClaimWindow, superseded, type ClaimWindows } from './chunk-claim.js';
import { handBack, outcome, refOf, retryOf, type ChunkArgs, type ChunkResult, type RetryEntry } from './chunk-contract.js';
import type { ActivityDeps } from './index.js';
import { jobsEnded } from './job-metrics.js';
import { chunkSlots, type Lane } from './chunk-slots.js';

/** Outcomes written per statement; also a heartbeat point. */
const FLUSH_SIZE = 1_000;
/** Slow jobs still show progress this often. */
const FLUSH_INTERVAL_MS = 500;
/**
 * A chunk's first heartbeat comes this long after it starts (the heartbeat timeout is
 * 10 s, so a dead worker is still found as soon). Cancellation reaches a running chunk
 * through its batch's row too (the gate), not only through heartbeats.
 */
const FIRST_BEAT_MS = 1_000;

export function createChunkActivities({ sql, registry, log, tenantMaxJobsInFlight }: ActivityDeps) {
  return {
    /**
     * Runs many jobs in one activity, `concurrency` at a time, and writes their
     * outcomes in bulk. Crash-safe: a job's row is the cursor, and the chunk's claim
     * (db/chunk-claims.ts) says which jobs an earlier try may have started. On a retry of
     * this activity, jobs that ended are not loaded again; jobs whose failed attempt
     * was recorded go back to the workflow for their backoff instead of running early;
     * claimed jobs without an outcome get that attempt counted (`AttemptLost`) and go
     * back too. So no attempt runs twice under one number, as in per-activity mode.
     */
    async runChunk(args: ChunkArgs): Promise<ChunkResult> {
      const ctx = Context.current();
      // Phase times for the debug log at the end: setup (claim, jobs, slots), lanes, last flush.
      const phase = { start: performance.now(), ready: 0, ran: 0, flushed: 0 };
      const type = jobTypeOrFail(registry, args.jobType);
      const claim = claimOf(ctx.info, args.batchId);
      const result: ChunkResult = { succeeded: 0, failed: 0, retry: [], deferred: [], batchFailed: 0 };
      /** A job for the workflow to retry, its attempt failed at `failedAt` (or earlier: an earlier try's). */
      const retried = (entry: RetryEntry, failedAt = Date.now()) => {
        result.retry.push(entry);
        result.lastFailureAt = Math.max(result.lastFailureAt ?? 0, failedAt);
      };
      // The tenant's slots (activities/chunk-slots.ts), asked for now, while the claim is taken and the jobs read.
      const slots = chunkSlots(sql, {
        info: ctx.info,
        tenantId: args.tenantId,
        defaultCap: tenantMaxJobsInFlight,
        lanes: args.concurrency,
        jobs: (args.seqs ?? args.ids)?.length ?? args.range!.toSeq - args.range!.fromSeq,
        log,
        batchId: args.batchId,
      });
      let claims: ClaimWindows;
      let loaded: ChunkJob[];
      const toRun: ChunkJob[] = [];
      try {
        // The claim is taken before the jobs are read, so what is read is what the
        // earlier try (if any) left: it can write nothing once this commits.
        claims = await openClaimWindow(sql, claim, { lanes: Math.max(1, args.concurrency), range: args.range, seqs: args.seqs });
        loaded = await answered(
          args.seqs
            ? chunks.loadBySeqs(sql, args.batchId, args.seqs)
            : args.ids
              ? chunks.loadByIds(sql, args.batchId, args.ids, args.within)
              : chunks.loadRange(sql, args.batchId, args.range!.fromSeq, args.range!.toSeq),
        );
        // A retry round's jobs, by position or id, with the attempts counter the workflow last heard of.
        const keys: readonly (number | string)[] | undefined = args.seqs ?? args.ids;
        const seen = new Map<number | string, number>(keys && args.seen ? keys.map((k, i) => [k, args.seen![i]!]) : []);
        const keyOf = (job: ChunkJob) => (args.seqs ? job.seq : job.id);
        const lost: ChunkJob[] = [];
        for (const job of loaded) {
          // An outcome recorded by an earlier try of this chunk: the job waits for its backoff.
          const recorded = keys ? job.attempts > (seen.get(keyOf(job)) ?? job.attempts) : job.status === 'running' && job.attempts > job.retryBase;
          if (recorded) retried(retryOf(job, job.attempts));
          else if (claims.prior !== null && job.seq <= claims.prior) lost.push(job);
          else toRun.push(job);
        }
        if (lost.length > 0) {
          // Claimed by an earlier try, no outcome: it may have run. Count that attempt as
          // failed (Temporal counts an attempt whose worker died the same way), so the
          // job's next run has a number of its own.
          const outcomes = lost.map((job) =>
            outcome(job, job.attempts + 1 - job.retryBase >= args.maxAttempts ? 'failed' : 'running', null, FailureTypes.AttemptLost, LOST_ATTEMPT_MESSAGE),
          );
          const counted = await answered(chunks.recordOutcomes(sql, claim, outcomes));
          if (!counted.owned) throw superseded(claim);
          jobsEnded(counted.succeeded, counted.failed);
          result.failed += counted.failed;
          result.batchFailed = counted.batchFailed;
          lost.forEach((job, i) => {
            if (outcomes[i]!.status === 'running') retried(retryOf(job, job.attempts + 1));
          });
          log.warn({ batchId: args.batchId, chunk: claim.chunk, lost: lost.length, failed: counted.failed }, 'chunk ran again: attempts that may have run without an outcome were counted');
        }
        // Tenant cap: waited for even with nothing to run, so that its failure is this one's.
        if ((await slots.granted()) === 0 && toRun.length > 0) {
          return handBack({ ...result, deferred: toRun.map((j) => refOf(j)), throttled: true }, args.byPosition);
        }
      } catch (err) {
        await slots.abandon();
        throw err;
      }
      phase.ready = performance.now();
      // Set when the chunk must stop taking jobs (it finishes those it started): the
      // batch is paused or no longer running, or its failures passed the tolerance.
      let halt = false;
      const overLimit = (failed: number) => args.failureLimit !== null && failed > args.failureLimit;

      // Local activities (small chunks) cannot heartbeat; their workflow task keeps them alive.
      // The first heartbeat waits FIRST_BEAT_MS: most chunks of light jobs end sooner, and a
      // heartbeat is a write of the run's state on the Temporal server.
      const beatFrom = Date.now() + FIRST_BEAT_MS;
      const beat = () => {
        if (!ctx.info.isLocal && Date.now() >= beatFrom) ctx.heartbeat({ done: result.succeeded + result.failed + result.retry.length, of: loaded.length });
      };
      const byId = new Map(toRun.map((j) => [j.id, j]));
      /** Each retryable failure, until its outcome is written: when, and the handler's own retry-after. */
      const failures = new Map<string, PendingRetry>();
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
            // Unanswered, it would hold every later flush, and the chunk (heartbeating all the while) for good.
            const counted = await answered(chunks.recordOutcomes(sql, claim, batch));
            if (!counted.owned) throw superseded(claim);
            jobsEnded(counted.succeeded, counted.failed);
            result.succeeded += counted.succeeded;
            result.failed += counted.failed;
            result.batchFailed = Math.max(result.batchFailed, counted.batchFailed);
            if (overLimit(counted.batchFailed)) halt = true;
            for (const o of batch) {
              if (o.status !== 'running') continue;
              const job = byId.get(o.id)!;
              const f = failures.get(o.id);
              failures.delete(o.id);
              retried({ ...retryOf(job, job.attempts + 1), ...(f?.retryAfterMs !== undefined ? { retryAfterMs: f.retryAfterMs } : {}) }, f?.at);
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
      // Each lane's clock on its attempt (activities/attempt-clock.ts): the type's timeout holds per job.
      const clocks = new Set<AttemptClock<ChunkJob>>();
      const liveness = setInterval(() => {
        const t = performance.now();
        for (const clock of clocks) clock.check(t);
        void flush();
        void gate().catch(() => {});
        beat();
        void slots.topUp().catch(() => {});
      }, FLUSH_INTERVAL_MS);

      const attempts = chunkAttempts(sql, {
        type,
        cancelled: ctx.cancellationSignal,
        batchId: args.batchId,
        tenantId: args.tenantId,
        maxAttempts: args.maxAttempts,
        log,
        failures,
      });

      // Lanes start a job only once the claim covers it.
      const window = claims.track(toRun, (err) => {
        flushError ??= err;
        halt = true;
      });

      try {
        let next = 0;
        const lane = async (self: Lane) => {
          const clock: AttemptClock<ChunkJob> = new AttemptClock(ctx.cancellationSignal, type.policy.timeoutMs, (job, since, err) => {
            // Past its time: the attempt fails here, and a new lane takes this one's place.
            clocks.delete(clock);
            if (!ctx.cancellationSignal.aborted) buffer.push(attempts.failed(job, err, since));
            self.replace();
          });
          clocks.add(clock);
          try {
            while (next < toRun.length && !ctx.cancellationSignal.aborted && !halt) {
              const claimed = window.ready(next);
              if (claimed !== true) {
                await claimed;
                continue;
              }
              const job = toRun[next++]!;
              const o = await attempts.run(job, clock);
              if (o === undefined) return;
              // An attempt cut short by a cancel is not an attempt: leave the job as it was.
              if (ctx.cancellationSignal.aborted && o.status !== 'succeeded') continue;
              buffer.push(o);
              if (buffer.length >= FLUSH_SIZE) void flush();
            }
          } finally {
            clocks.delete(clock);
          }
        };
        // A lane per slot granted, now and on later liveness ticks.
        await slots.runLanes(lane, Math.max(1, Math.min(args.concurrency, toRun.length)), {
          left: () => toRun.length - next,
          stopped: () => halt || ctx.cancellationSignal.aborted,
        });
        phase.ran = performance.now();
        await window.settled();
        await flush();
        phase.flushed = performance.now();
        result.deferred = toRun.slice(next).map((j) => refOf(j));
      } finally {
        clearInterval(liveness);
        await slots.release();
      }
      if (log.isLevelEnabled('debug')) {
        const ms = (from: number, to: number) => Math.round(to - from);
        log.debug(
          { batchId: args.batchId, chunk: claim.chunk, jobs: loaded.length, retry: result.retry.length, setupMs: ms(phase.start, phase.ready), lanesMs: ms(phase.ready, phase.ran), lastFlushMs: ms(phase.ran, phase.flushed) },
          'chunk ended',
        );
      }
      if (flushError !== undefined) throw flushError;
      if (ctx.cancellationSignal.aborted) throw new CancelledFailure('chunk cancelled');
      if (args.finish && !halt && result.retry.length === 0 && result.deferred.length === 0) {
        const row = await answered(finishBatch(sql, args.batchId, args.finish.epoch, { onlyIfAllEnded: true }));
        if (row) result.finished = { ...snapshotOf(row), thresholdSet: row.thresholdSet };
      }
      return handBack(result, args.byPosition);
    },
  };
}
