/**
 * `local` mode: one Temporal local activity per job, run by the worker that runs the
 * workflow task, under the batch's retry policy (attempts after a backoff of up to 10 s
 * are retried in the worker, longer ones after a durable timer). No round trip through
 * the server per attempt; each job's outcome is a marker in the history.
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
 * Everything the run decides depends only on the order jobs are dispatched in and on
 * what a whole wave returned, never on the order attempts end in within a wave: a replay
 * resolves local activities in the order of their markers, but wakes the lanes in an
 * order of its own. So a wave's failed jobs are ended (`failJob`) at its end, in
 * position order, and its throttled jobs (the tenant at its cap) go first in the next
 * wave, after the throttle's backoff instead of the 1 ms timer.
 */
import { ActivityFailure, ApplicationFailure, condition, isCancellation, proxyLocalActivities, sleep, TimeoutFailure, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { noteBatchFailed } from './control.js';
import { MAX_HISTORY_EVENTS, PAGE_SIZE, describeFailure } from './per-activity.js';
import { bookkeeping, countStatus, jobLocalActivityOptions, now, type RangeEnd, type RangeRun } from './shared.js';
import { throttleBackoff } from './throttle.js';

/** The most jobs in one wave (one workflow task's markers), unless the concurrency is higher. */
export const LOCAL_WAVE_JOBS = 500;
/** The work a wave aims at: how long a pause, cancel or query may wait behind running jobs of a few milliseconds. */
export const LOCAL_WAVE_MS = 1_000;
/** Jobs one run dispatches before it continues as new: about one event each (two for a job that ends failed). */
export const LOCAL_RUN_JOBS = 3_000;

interface Job {
  id: string;
  seq: number;
  /** Temporal attempts spent by earlier dispatches that were throttled. */
  spent: number;
}

export async function runLocal(r: RangeRun): Promise<RangeEnd> {
  const ctl = r.control;
  const options = jobLocalActivityOptions(r.plan);
  const maxAttempts = options.retry?.maximumAttempts;

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
      for (const j of next) queue.push({ ...j, spent: 0 });
      afterSeq = next.at(-1)?.seq ?? afterSeq;
    }
  };

  let inFlight = 0;
  /** Runs up to `size` jobs from the queue over `lanes` lanes; what they returned, for the end of the wave. */
  const wave = async (size: number, lanes: number) => {
    let taken = 0;
    let lastEnd = 0;
    const failed: { job: Job; cause: Error | undefined; message: string }[] = [];
    const throttled: Job[] = [];
    const lane = async () => {
      while (taken < size && queue.length > 0) {
        const job = queue.shift()!;
        taken++;
        inFlight++;
        r.onInFlight(inFlight);
        try {
          const retry = job.spent > 0 && maxAttempts ? { retry: { ...options.retry, maximumAttempts: Math.max(1, maxAttempts - job.spent) } } : {};
          const { runJob } = proxyLocalActivities<Activities>({ ...options, ...retry, summary: `job #${job.seq}` });
          const outcome = await runJob({ jobId: job.id, tenantId: r.tenantId });
          if (outcome.endedAt !== undefined) lastEnd = Math.max(lastEnd, outcome.endedAt);
          if (outcome.status === 'throttled') throttled.push({ ...job, spent: job.spent + (outcome.attemptsSpent ?? 0) });
          else countStatus(r.tally, outcome.status);
        } catch (err) {
          if (isCancellation(err)) throw err;
          if (err instanceof ActivityFailure) failed.push({ job, cause: err.cause, message: err.message });
          else if (err instanceof ApplicationFailure || err instanceof TimeoutFailure) failed.push({ job, cause: err, message: err.message });
          else throw err;
        } finally {
          inFlight--;
          r.onInFlight(inFlight);
        }
      }
    };
    await Promise.all(Array.from({ length: lanes }, lane));
    return { taken, lastEnd, failed, throttled };
  };

  const throttle = throttleBackoff();
  let size = Math.max(1, ctl.concurrency);
  let dispatched = 0;
  for (;;) {
    if (ctl.paused && !ctl.stop) await condition(() => !ctl.paused || ctl.stop);
    if (ctl.stop) return { done: true };
    // Throttled jobs carry attempts spent: they run before the run continues as new.
    if (!queue.some((j) => j.spent > 0)) {
      const info = workflowInfo();
      if (info.continueAsNewSuggested || info.historyLength > MAX_HISTORY_EVENTS || dispatched >= LOCAL_RUN_JOBS) {
        return { done: false, continueFrom: queue[0]?.seq ?? afterSeq + 1 };
      }
    }
    const lanes = Math.max(1, Math.min(ctl.concurrency, size));
    size = Math.max(size, lanes);
    await fill(size);
    if (queue.length === 0) return { done: true };
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
    if (queue.length === 0 && exhausted) return { done: true };
    // Ends the workflow task: what arrived while the wave ran comes in with the next.
    if (w.throttled.length > 0) await sleep(throttle.next());
    else {
      throttle.reset();
      await sleep(1);
    }
  }
}
