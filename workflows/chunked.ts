/**
 * Chunked execution for light jobs. The range is cut into chunks; one activity runs a
 * chunk's jobs concurrently and writes their outcomes in bulk, then hands back the
 * jobs whose attempt failed but may be retried. Each such group waits out the batch's
 * backoff on a durable timer and runs again as a chunk of ids, until it succeeds or
 * its attempts are spent (the activity ends those as failed). Stops for a
 * continue-as-new, once everything in flight has settled, when Temporal suggests it.
 *
 * Control: a pause holds new chunks, and running chunks see it on the batch row, stop
 * taking jobs and hand the rest back (`deferred`), which run again after the resume.
 * A concurrency change shapes the chunks started after it; running chunks keep their
 * lanes, and the lanes of all together never pass the concurrency. Past the failure tolerance
 * (checked after each chunk, and by the chunks themselves after each write) the
 * chunks in flight are cancelled and nothing more starts.
 */
import {
  CancellationScope,
  condition,
  isCancellation,
  patched,
  proxyActivities,
  proxyLocalActivities,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities, ChunkArgs, ChunkResult } from '../activities/index.js';
import { CHUNK_ROUNDS, chunkLanes, chunkShape, chunkTimeoutMs, LOCAL_CHUNK_MAX } from '../lib/chunk-shape.js';
import { FailureTypes } from '../lib/names.js';
import { handedBack, type Held } from './chunk-results.js';
import { noteBatchFailed } from './control.js';
import { MAX_HISTORY_EVENTS } from './per-activity.js';
import { backoffMs, now, type RangeEnd, type RangeRun } from './shared.js';
import { throttleBackoff } from './throttle.js';

/** Patch: retry timers count from the failed attempt, not from the chunk's result (workflows of before it start them at the full backoff). */
const RETRY_FROM_FAILURE = 'chunk-retry-from-failure';
/** Patch: ranges cut into CHUNK_ROUNDS chunks per slot, not 8 (a run's chunks are its commands). */
const FEWER_ROUNDS = 'chunk-rounds-4';
/** Patch: retry groups wait on a list of due times instead of a timer each (workflows of before it start one per group). */
const RETRY_DUE_LIST = 'chunk-retry-due-list';

export async function runChunked(r: RangeRun): Promise<RangeEnd> {
  const ctl = r.control;
  // Chunk size is fixed per run (it bounds the timeout); lanes follow the live concurrency.
  const { chunkSize } = chunkShape(ctl.concurrency, r.toSeq - r.cursor, patched(FEWER_ROUNDS) ? CHUNK_ROUNDS : 8);
  const retry = {
    initialInterval: '1 second',
    maximumInterval: '30 seconds',
    nonRetryableErrorTypes: [FailureTypes.UnknownJobType, FailureTypes.NotFound],
  };
  const runChunk = (args: ChunkArgs) => {
    const size = (args.seqs ?? args.ids)?.length ?? args.range!.toSeq - args.range!.fromSeq;
    // Per chunk, because the lanes (and so the time a chunk may take) follow the live concurrency.
    const startToCloseTimeout = chunkTimeoutMs(r.plan.policy.timeoutMs, size, args.concurrency);
    // A chunk heartbeats twice a second whatever its jobs do; a silent one is a dead worker.
    if (size > LOCAL_CHUNK_MAX) return proxyActivities<Activities>({ heartbeatTimeout: '10 seconds', startToCloseTimeout, retry }).runChunk(args);
    return proxyLocalActivities<Activities>({ startToCloseTimeout, retry, localRetryThreshold: '10 seconds' }).runChunk(args);
  };
  const base = (lanes: number): Omit<ChunkArgs, 'range' | 'ids'> => ({
    batchId: r.batchId,
    tenantId: r.tenantId,
    jobType: r.plan.jobType,
    maxAttempts: r.plan.maxRetries + 1,
    concurrency: lanes,
    failureLimit: ctl.failureLimit,
    byPosition: true,
  });
  const slots = () => chunkShape(ctl.concurrency, 0).chunksInFlight;

  // Chunks and retry timers run in their own scope, so a crossed tolerance cancels them and nothing else.
  const work = new CancellationScope();
  let active = 0;
  /**
   * The lanes (jobs in flight) of the chunks running: together never more than the
   * concurrency. A chunk keeps its lanes to its end, so after the concurrency is
   * lowered no chunk starts until those running are under the new figure.
   */
  let lanesInFlight = 0;
  let waiting = 0;
  let failure: unknown;
  const fail = (err: unknown) => {
    if (ctl.stop && isCancellation(err)) return;
    failure ??= err;
  };
  const halted = () => ctl.stop || failure !== undefined;
  // --- tenant cap: a throttled chunk (no slot free) ran nothing; its jobs wait a growing
  // durable timer, and no new range starts until a chunk gets through again.
  const throttle = throttleBackoff();
  const deferAfter = (throttled: boolean | undefined): number => {
    if (throttled) return throttle.next();
    throttle.reset();
    return 0;
  };

  const free = () => !ctl.paused && active < slots() && lanesInFlight < ctl.concurrency;
  /**
   * Takes a slot and its lanes: a chunk's share of the concurrency, within what is left
   * of it, and no more than the chunk's `jobs()`. 0 once halted. Re-checked after each
   * wake-up because several waiters can wake at once.
   */
  const acquire = async (jobs: () => number = () => Infinity): Promise<number> => {
    while (!halted() && !free()) await condition(() => halted() || free());
    if (halted()) return 0;
    const lanes = Math.max(1, Math.min(chunkLanes(ctl.concurrency), ctl.concurrency - lanesInFlight, jobs()));
    active++;
    lanesInFlight += lanes;
    r.onInFlight(lanesInFlight);
    return lanes;
  };

  let finished: ChunkResult['finished'];
  /** Counts a chunk's outcomes and sends its retries and deferred jobs round again. */
  const absorb = (result: ChunkResult) => {
    finished ??= result.finished;
    r.tally.succeeded += result.succeeded;
    r.tally.failed += result.failed;
    noteBatchFailed(ctl, result.batchFailed);
    if (ctl.stop) {
      work.cancel();
      return;
    }
    const back = handedBack(result, (attempts) => backoffMs(r.plan, attempts));
    if (back.retry) scheduleRetry(back.retry.jobs, back.retry.backoff, result.lastFailureAt);
    const delay = deferAfter(result.throttled);
    if (back.deferred.length > 0) later(delay, back.deferred);
    // A slot is about to be free: retries that came due meanwhile may fill it.
    if (due.length > 0) void pump().catch(fail);
  };
  /** Runs one chunk in a slot already taken. */
  const execute = async (args: ChunkArgs) => {
    try {
      absorb(await runChunk(args));
    } finally {
      active--;
      lanesInFlight -= args.concurrency;
      r.onInFlight(lanesInFlight);
    }
  };

  // Jobs whose backoff has run out (or that a pause handed back) wait here; one pump
  // hands them out in chunks, so groups that come due together (at one chunk's result,
  // or while every slot is busy) share one activity instead of one each.
  // While first-pass chunks are still being started, the pump waits for a full chunk:
  // a chunk's fixed cost (scheduling, claim, load, flush) is then spread over as many
  // jobs as a first-pass chunk's. Once the range is all started (or the run is about to
  // continue as new), it hands out whatever is ready.
  const ready: Held[] = [];
  let rangeStarted = false;
  let pumping = false;
  /** Retries that came due join `ready`; true when what is ready may go out now. */
  const dispatchable = () => {
    promoteDue();
    return ready.length > 0 && (rangeStarted || ready.length >= chunkSize);
  };
  const pump = async () => {
    if (pumping) return;
    pumping = true;
    try {
      while (dispatchable()) {
        // What came due while it waited for a slot goes out in this chunk too.
        const lanes = await acquire(() => {
          promoteDue();
          return Math.min(chunkSize, ready.length);
        });
        if (lanes === 0) return;
        let jobs = ready.splice(0, chunkSize);
        // Jobs from results recorded before positions were sent have only ids: a round of their own.
        const idsOnly = jobs.filter((j) => j.seq === undefined);
        if (idsOnly.length > 0 && idsOnly.length < jobs.length) {
          ready.unshift(...idsOnly);
          jobs = jobs.filter((j) => j.seq !== undefined);
        }
        const which = idsOnly.length === jobs.length ? { ids: jobs.map((j) => j.id!) } : { seqs: jobs.map((j) => j.seq!) };
        void work.run(() => execute({ ...base(lanes), ...which, seen: jobs.map((j) => j.seen) })).catch(fail);
      }
    } finally {
      pumping = false;
    }
    wakeForDue();
  };

  /**
   * Retry groups whose backoff has not run out, by the time it does (the workflow's
   * clock), earliest first. No timer per group: each chunk's result wakes the workflow
   * anyway, and the pump moves what has come due to `ready` then. Only once nothing else
   * will wake it (the range is all started) does a durable timer run, to the earliest
   * time on the list. A timer per group cost a workflow task per group, and while one
   * runs, a chunk's result waits for the next: W1 with a 100 ms timer per chunk ran
   * 2.09 s against 1.67 (6 alternating pairs).
   */
  const due: { at: number; jobs: Held[] }[] = [];
  /** The times the durable timers running for `due` fire at. */
  const wakes = new Set<number>();
  const promoteDue = () => {
    const t = now();
    while (due.length > 0 && due[0]!.at <= t) ready.push(...due.shift()!.jobs);
  };
  /** Adds a group; absorb, which brought it, runs the pump next. */
  const dueAt = (at: number, jobs: Held[]) => {
    let i = due.length;
    while (i > 0 && due[i - 1]!.at > at) i--;
    due.splice(i, 0, { at, jobs });
  };
  const wakeForDue = () => {
    promoteDue();
    if (!rangeStarted || halted() || due.length === 0) return;
    const at = due[0]!.at;
    if ([...wakes].some((t) => t <= at)) return;
    wakes.add(at);
    waiting++;
    void work
      .run(() => sleep(at - now()))
      .then(() => {
        wakes.delete(at);
        return pump();
      })
      .catch(fail)
      .finally(() => waiting--);
  };

  /** Runs these jobs again after `delay` ms, pooled with any others ready by then, once a slot is free and the batch is not paused. */
  const later = (delay: number, jobs: Held[]) => {
    waiting++;
    void work
      .run(async () => {
        if (delay > 0) await sleep(delay);
        ready.push(...jobs);
      })
      .then(pump)
      .catch(fail)
      .finally(() => waiting--);
  };

  /**
   * The backoff counts from the failed attempt, as Temporal counts an activity's: the
   * time the result took to come back (the rest of its chunk, the workflow task) is
   * part of it. From the latest failure of the group, so none of them runs early (by
   * more than the worker's clock lags the server's, whose time the workflow keeps).
   * `backoff`: the longest of the group's (the policy's for its attempts, or a handler's own).
   */
  const scheduleRetry = (jobs: Held[], backoff: number, lastFailureAt: number | undefined) => {
    const t = now();
    const delay = lastFailureAt === undefined || !patched(RETRY_FROM_FAILURE) ? backoff : Math.min(backoff, Math.max(0, lastFailureAt + backoff - t));
    if (!patched(RETRY_DUE_LIST)) return later(delay, jobs);
    dueAt(t + delay, jobs);
  };

  const settled = async () => {
    await condition(() => (active === 0 && waiting === 0 && ((ready.length === 0 && due.length === 0) || halted())) || failure !== undefined);
    await condition(() => active === 0);
    if (failure !== undefined) throw failure;
  };

  let next = r.cursor;
  if (r.firstChunk) {
    // startBatch ran [cursor, toSeq) as one chunk already: what is left are its retries.
    absorb(r.firstChunk);
    next = r.toSeq;
  }
  while (next < r.toSeq) {
    const info = workflowInfo();
    if (info.continueAsNewSuggested || info.historyLength > MAX_HISTORY_EVENTS) {
      rangeStarted = true;
      void pump().catch(fail);
      await settled();
      return { done: false, continueFrom: next };
    }
    if (throttle.active) await condition(() => halted() || !throttle.active);
    const lanes = await acquire(() => Math.min(chunkSize, r.toSeq - next));
    if (lanes === 0) break;
    const fromSeq = next;
    next = Math.min(r.toSeq, next + chunkSize);
    // A chunk holding the whole batch may finish it when all its jobs end there.
    const whole = r.finishEpoch !== undefined && fromSeq === 0 && next === r.toSeq;
    void work.run(() => execute({ ...base(lanes), range: { fromSeq, toSeq: next }, ...(whole ? { finish: { epoch: r.finishEpoch! } } : {}) })).catch(fail);
  }
  rangeStarted = true;
  void pump().catch(fail);
  await settled();
  return { done: true, ...(finished ? { finished } : {}) };
}
