/**
 * `local` mode: one Temporal local activity per attempt of a job, run by the worker that
 * runs the workflow task, under the batch's retry policy (below). No round trip through
 * the server per attempt; each attempt's outcome is a marker in the history.
 *
 * While local activities are in flight the worker holds the run's workflow task open
 * (heartbeating it at 80% of its timeout, 8 s by default) and records their markers only
 * when it completes it: until then no signal, update (pause, resume, concurrency),
 * cancel or query reaches the run, and `historyLength` does not move. So the run goes
 * in waves: a wave dispatches up to `size` jobs over min(concurrency, size) lanes, its
 * attempts all end, and a 1 ms durable timer ends the workflow task; the next one
 * brings in whatever arrived meanwhile. A wave's size aims at LOCAL_WAVE_MS of work,
 * from the rate of the wave before (its jobs' `endedAt`, the worker's clock as recorded
 * in their markers), and never goes below the concurrency (one job per lane).
 *
 * A job whose attempt fails and may be tried again does not hold its wave up (with the
 * attempt retried in the worker, every wave waited out the backoff of its last failure:
 * W3 ran at half W1's rate). Each dispatch is one attempt; the run keeps the job until
 * its backoff has run out, counted from the start of the next workflow task (after the
 * failure, by the workflow's clock), and it goes first in the first wave after that.
 * Attempts and backoffs are the batch's retry policy's, as Temporal would apply them
 * (a handler's own delay too); jobs between attempts are carried over a continue-as-new.
 *
 * Everything the run decides depends only on the order jobs are dispatched in and on
 * what a whole wave returned, never on the order attempts end in within a wave: a replay
 * resolves local activities in the order of their markers, but wakes the lanes in an
 * order of its own. So a wave's failed jobs are ended (`failJob`) at its end, in
 * position order, and its throttled jobs (the tenant at its cap) go first in the next
 * wave, after the throttle's backoff instead of the 1 ms timer.
 */
import { ActivityFailure, ApplicationFailure, condition, isCancellation, patched, proxyLocalActivities, sleep, TimeoutFailure, workflowInfo } from '@temporalio/workflow';
import type { Activities, RetryAfterDetails } from '../activities/index.js';
import { noteBatchFailed } from './control.js';
import { MAX_HISTORY_EVENTS, PAGE_SIZE, describeFailure } from './per-activity.js';
import { backoffMs, bookkeeping, countStatus, jobLocalActivityOptions, now, type HeldRetry, type RangeEnd, type RangeRun } from './shared.js';
import { throttleBackoff } from './throttle.js';

/** The most jobs in one wave (one workflow task's markers), unless the concurrency is higher. */
export const LOCAL_WAVE_JOBS = 500;
/** The work a wave aims at: how long a pause, cancel or query may wait behind running jobs of a few milliseconds. */
export const LOCAL_WAVE_MS = 1_000;
/** Jobs one run dispatches before it continues as new: about one event each (two for a job that ends failed). */
export const LOCAL_RUN_JOBS = 3_000;

/** Patch: a dispatch is one attempt, and the run holds a job between attempts (runs of before it retried in the worker). */
export const LOCAL_WAVE_RETRIES = 'local-wave-retries';

interface Job {
  id: string;
  seq: number;
  /** Temporal attempts spent by earlier dispatches that were throttled (runs before LOCAL_WAVE_RETRIES). */
  spent: number;
  /** Attempts made (LOCAL_WAVE_RETRIES). */
  attempts: number;
}

/** A job waiting out its backoff: `readyAt` by the workflow's clock, or, right after its failure, the backoff still to count. */
interface Held extends Job {
  readyAt?: number;
  backoff: number;
}

export async function runLocal(r: RangeRun): Promise<RangeEnd> {
  const ctl = r.control;
  const options = jobLocalActivityOptions(r.plan);
  const maxAttempts = options.retry?.maximumAttempts;
  const waveRetries = patched(LOCAL_WAVE_RETRIES);
  const nonRetryable = options.retry?.nonRetryableErrorTypes ?? [];
  const retryable = (cause: Error | undefined) =>
    cause instanceof ApplicationFailure ? !cause.nonRetryable && !nonRetryable.includes(cause.type ?? '') : cause instanceof TimeoutFailure;
  const backoffAfter = (attempts: number, cause: Error | undefined) => {
    const own = cause instanceof ApplicationFailure ? (cause.details?.[0] as Partial<RetryAfterDetails> | undefined)?.retryAfterMs : undefined;
    return typeof own === 'number' ? own : backoffMs(r.plan, attempts);
  };
  /** Jobs between attempts. */
  let held: Held[] = [];
  /** Carried over the continue-as-new, by position: they are read again with the rest. */
  const carried = new Map((r.retries ?? []).map((c) => [c.seq, c]));

  /**
   * Jobs to dispatch, in position order: throttled ones of the wave before first, then
   * those read ahead. Filled between waves, so a lane takes its next job and schedules
   * its attempt in one synchronous step.
   */
  let queue: Job[] = [];
  /** The last position read. */
  let afterSeq = r.cursor - 1;
  let exhausted = false;
  const fill = async (size: number) => {
    while (queue.length < size && !exhausted) {
      const next = await bookkeeping.listPendingJobs({ batchId: r.batchId, afterSeq, beforeSeq: r.toSeq, limit: PAGE_SIZE });
      // A short page is the last: no read that finds nothing.
      exhausted = next.length < PAGE_SIZE;
      for (const j of next) {
        const c = carried.get(j.seq);
        carried.delete(j.seq);
        const job = { ...j, spent: 0, attempts: c?.attempts ?? 0 };
        if (c && c.readyAt > now()) held.push({ ...job, readyAt: c.readyAt, backoff: 0 });
        else queue.push(job);
      }
      afterSeq = next.at(-1)?.seq ?? afterSeq;
    }
  };

  let inFlight = 0;
  /** Runs up to `size` jobs from the queue over `lanes` lanes; what they returned, for the end of the wave. */
  const wave = async (size: number, lanes: number) => {
    let taken = 0;
    let lastEnd = 0;
    const failed: { job: Job; cause: Error | undefined; message: string }[] = [];
    const retried: Held[] = [];
    const throttled: Job[] = [];
    const lane = async () => {
      while (taken < size && queue.length > 0) {
        const job = queue.shift()!;
        taken++;
        inFlight++;
        r.onInFlight(inFlight);
        try {
          const retry = waveRetries
            ? { retry: { ...options.retry, maximumAttempts: 1 } }
            : job.spent > 0 && maxAttempts
              ? { retry: { ...options.retry, maximumAttempts: Math.max(1, maxAttempts - job.spent) } }
              : {};
          const { runJob } = proxyLocalActivities<Activities>({ ...options, ...retry, summary: `job #${job.seq}` });
          const outcome = await runJob({ jobId: job.id, tenantId: r.tenantId });
          if (outcome.endedAt !== undefined) lastEnd = Math.max(lastEnd, outcome.endedAt);
          if (outcome.status === 'throttled') throttled.push({ ...job, spent: job.spent + (outcome.attemptsSpent ?? 0) });
          else countStatus(r.tally, outcome.status);
        } catch (err) {
          if (isCancellation(err)) throw err;
          const cause = err instanceof ActivityFailure ? err.cause : err instanceof ApplicationFailure || err instanceof TimeoutFailure ? err : undefined;
          if (!cause && !(err instanceof ActivityFailure)) throw err;
          const attempts = job.attempts + 1;
          // Its backoff counts anew (a job back from an earlier backoff has its readyAt).
          if (waveRetries && retryable(cause) && attempts < (maxAttempts ?? Infinity)) retried.push({ id: job.id, seq: job.seq, spent: job.spent, attempts, backoff: backoffAfter(attempts, cause) });
          else failed.push({ job, cause, message: (err as Error).message });
        } finally {
          inFlight--;
          r.onInFlight(inFlight);
        }
      }
    };
    await Promise.all(Array.from({ length: lanes }, lane));
    return { taken, lastEnd, failed, throttled, retried };
  };
  /**
   * Held jobs whose backoff has run out go to the front of the queue, in position order.
   * A job that failed in the wave before has its backoff counted from now: the start of
   * this workflow task, after its failure.
   */
  const release = () => {
    const t = now();
    for (const h of held) h.readyAt ??= t + h.backoff;
    const ready = held.filter((h) => h.readyAt! <= t);
    if (ready.length === 0) return;
    held = held.filter((h) => h.readyAt! > t);
    queue = [...ready.sort((a, b) => a.seq - b.seq), ...queue];
  };
  /** Carried over a continue-as-new: jobs between attempts, and queued jobs that have made some. */
  const toCarry = (): HeldRetry[] => [
    ...held.map((h) => ({ seq: h.seq, attempts: h.attempts, readyAt: h.readyAt! })),
    ...queue.filter((j) => j.attempts > 0).map((j) => ({ seq: j.seq, attempts: j.attempts, readyAt: 0 })),
  ];

  const throttle = throttleBackoff();
  let size = Math.max(1, ctl.concurrency);
  let dispatched = 0;
  for (;;) {
    if (ctl.paused && !ctl.stop) await condition(() => !ctl.paused || ctl.stop);
    if (ctl.stop) return { done: true };
    release();
    // Throttled jobs carry Temporal attempts spent (runs before LOCAL_WAVE_RETRIES): they run before the run continues as new.
    if (!queue.some((j) => j.spent > 0)) {
      const info = workflowInfo();
      if (info.continueAsNewSuggested || info.historyLength > MAX_HISTORY_EVENTS || dispatched >= LOCAL_RUN_JOBS) {
        const from = Math.min(afterSeq + 1, ...queue.map((j) => j.seq), ...held.map((h) => h.seq));
        const retries = toCarry();
        return { done: false, continueFrom: from, ...(retries.length > 0 ? { retries } : {}) };
      }
    }
    const lanes = Math.max(1, Math.min(ctl.concurrency, size));
    size = Math.max(size, lanes);
    await fill(size);
    if (queue.length === 0) {
      if (held.length === 0) return { done: true };
      // Only jobs waiting out their backoff are left: wait for the first.
      await sleep(Math.max(1, Math.min(...held.map((h) => h.readyAt!)) - now()));
      continue;
    }
    const from = now();
    const w = await wave(size, lanes);
    dispatched += w.taken;
    // Jobs whose attempts are spent end failed, in position order; a stop (the failure
    // tolerance crossed) still records them all.
    w.failed.sort((a, b) => a.job.seq - b.job.seq);
    const ended = await Promise.all(w.failed.map(({ job, cause, message }) => bookkeeping.failJob({ jobId: job.id, epoch: r.plan.epoch, ...describeFailure(cause, message) })));
    for (const e of ended) {
      countStatus(r.tally, e.status);
      noteBatchFailed(ctl, e.batchFailed);
    }
    w.throttled.sort((a, b) => a.seq - b.seq);
    queue = [...w.throttled, ...queue];
    held.push(...w.retried);
    // The next wave's size, from this one's rate: LOCAL_WAVE_MS of work, at least a job
    // per lane. The failure tolerance is checked between waves: while jobs fail, a wave
    // holds about as many jobs as, failing at the same rate, would just cross it.
    const ran = w.taken - w.throttled.length;
    const took = w.lastEnd - from;
    if (ran > 0) size = Math.max(ctl.concurrency, took > 0 ? Math.min(LOCAL_WAVE_JOBS, Math.round((ran * LOCAL_WAVE_MS) / took)) : LOCAL_WAVE_JOBS);
    if (ctl.failureLimit !== null && ended.length > 0) {
      const batchFailed = Math.max(...ended.map((e) => e.batchFailed));
      const crossing = Math.ceil(((ctl.failureLimit - batchFailed + 1) * ran) / ended.length);
      size = Math.max(1, Math.min(size, crossing));
    }
    // The range's last wave: nothing to let in before it ends (one timer's round trip
    // less, most of a one-job batch's latency in this mode).
    if (queue.length === 0 && exhausted && held.length === 0) return { done: true };
    // Ends the workflow task: what arrived while the wave ran comes in with the next.
    if (w.throttled.length > 0) await sleep(throttle.next());
    else {
      throttle.reset();
      await sleep(1);
    }
  }
}
