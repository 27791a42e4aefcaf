import { CancelledFailure, Context } from '@temporalio/activity';
import { batchGate } from '../db/batch-control.js';
import * as chunks from '../db/chunks.js';
import { getJobTenantSettings } from '../db/tenant-settings.js';
import type { AttemptOutcome, ChunkJob } from '../db/chunks.js';
import { FailureTypes } from '../lib/names.js';
import { classifyFailure, jobTypeOrFail } from './failures.js';
import type { ActivityDeps } from './index.js';
import { jobMetrics, jobsEnded } from './job-metrics.js';
import { holderOf, lanePool, leaseTtlMs, slotLease } from './tenant-cap.js';

export interface ChunkArgs {
  batchId: string;
  tenantId: string;
  jobType: string;
  /** A first pass over positions [fromSeq, toSeq)… */
  range?: { fromSeq: number; toSeq: number };
  /** …or a retry round over these jobs. */
  ids?: string[];
  /** Attempts per job in this run of the batch (counted from the job's retry base). */
  maxAttempts: number;
  concurrency: number;
  /** The batch's failure tolerance as a count; past it the chunk stops taking jobs. */
  failureLimit: number | null;
}

export interface RetryEntry {
  id: string;
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
  deferred: string[];
  /** The batch's failed counter as of the chunk's last write. */
  batchFailed: number;
  /** The tenant had no slot free (its cap on jobs in flight): nothing ran, every job is `deferred`. */
  throttled?: boolean;
}

/** Outcomes written per statement; also a heartbeat point. */
const FLUSH_SIZE = 1_000;
/** Slow jobs still show progress this often. */
const FLUSH_INTERVAL_MS = 500;

export function createChunkActivities({ sql, registry, log, tenantMaxJobsInFlight }: ActivityDeps) {
  return {
    /**
     * Runs many jobs in one activity, `concurrency` at a time, and writes their
     * outcomes in bulk. Crash-safe without a cursor of its own: a job's row is the
     * cursor. On a retry of this activity, jobs that ended are not loaded again, and
     * jobs left `running` (a failed attempt recorded, retry not yet run) go straight
     * back to the workflow instead of being run early.
     */
    async runChunk(args: ChunkArgs): Promise<ChunkResult> {
      const ctx = Context.current();
      const type = jobTypeOrFail(registry, args.jobType);
      const loaded = args.ids
        ? await chunks.loadByIds(sql, args.batchId, args.ids)
        : await chunks.loadRange(sql, args.batchId, args.range!.fromSeq, args.range!.toSeq);

      const result: ChunkResult = { succeeded: 0, failed: 0, retry: [], deferred: [], batchFailed: 0 };
      const toRun: ChunkJob[] = [];
      for (const job of loaded) {
        if (!args.ids && job.status === 'running' && job.attempts > job.retryBase) {
          result.retry.push({ id: job.id, attempts: job.attempts - job.retryBase });
        } else toRun.push(job);
      }
      // --- tenant cap (activities/tenant-cap.ts): one lane per slot granted; none granted, nothing runs.
      const wanted = Math.max(1, Math.min(args.concurrency, toRun.length));
      const slots = slotLease(sql, { tenantId: args.tenantId, holder: holderOf(ctx.info), ttlMs: leaseTtlMs(ctx.info), defaultCap: tenantMaxJobsInFlight });
      if (toRun.length > 0 && (await slots.acquire(wanted)) === 0) {
        return { ...result, deferred: toRun.map((j) => j.id), throttled: true };
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
      const attemptsBefore = new Map(loaded.map((j) => [j.id, j.attempts - j.retryBase]));
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
            const counted = await chunks.recordOutcomes(sql, args.batchId, batch);
            jobsEnded(counted.succeeded, counted.failed);
            result.succeeded += counted.succeeded;
            result.failed += counted.failed;
            result.batchFailed = Math.max(result.batchFailed, counted.batchFailed);
            if (overLimit(counted.batchFailed)) halt = true;
            for (const o of batch) {
              if (o.status !== 'running') continue;
              const after = retryAfter.get(o.id);
              result.retry.push({
                id: o.id,
                attempts: (attemptsBefore.get(o.id) ?? 0) + 1,
                ...(after !== undefined ? { retryAfterMs: after } : {}),
              });
            }
            beat();
          })
          .catch((err: unknown) => {
            flushError ??= err;
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

      try {
        let next = 0;
        const lane = async () => {
          while (next < toRun.length && !ctx.cancellationSignal.aborted && !halt) {
            const job = toRun[next++]!;
            const o = await runOne(job);
            // An attempt cut short by a cancel is not an attempt: leave the job as it was.
            if (ctx.cancellationSignal.aborted && o.status !== 'succeeded') continue;
            buffer.push(o);
            if (buffer.length >= FLUSH_SIZE) void flush();
          }
        };
        // --- tenant cap: lanes start as slots are granted (now, and on later ticks while
        // short of `wanted`); a lane's slot goes back as soon as it has no job left to take.
        let closed = false;
        const pool = lanePool(() => lane().finally(() => slots.release(1).catch(() => {})));
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
        await flush();
        result.deferred = toRun.slice(next).map((j) => j.id);
      } finally {
        clearInterval(liveness);
        // Tenant cap: every slot still held goes back (a failed release lapses with the lease).
        await slots.release().catch((err: unknown) => log.warn({ err, batchId: args.batchId }, 'tenant slots not released; they lapse with the lease'));
      }
      if (flushError !== undefined) throw flushError;
      if (ctx.cancellationSignal.aborted) throw new CancelledFailure('chunk cancelled');
      return result;
    },
  };
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
