/**
 * One Temporal activity per job. Pages through job ids, keeps at most `concurrency`
 * attempts in flight under the batch's retry policy, and ends a job whose last attempt
 * failed with failJob. Holds dispatch while paused; once the failure tolerance is
 * crossed, stops dispatching and cancels the attempts in flight (they see it through
 * heartbeats). Stops for a continue-as-new when Temporal suggests it.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  patched,
  proxyActivities,
  TimeoutFailure,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { noteBatchFailed } from './control.js';
import { bookkeeping, countStatus, jobActivityOptions, type RangeEnd, type RangeRun } from './shared.js';
import { admissionGate, type AdmissionGate } from './throttle.js';

/** Ids fetched per page: small enough for one activity result, large enough to keep dispatch busy. */
export const PAGE_SIZE = 500;
/** Continue-as-new well before the server's limits even if the suggestion comes late. */
export const MAX_HISTORY_EVENTS = 8_000;

/**
 * The failure type and message of a job's last attempt, whatever ended it: `cause` is
 * an ActivityFailure's cause, or a local activity's failure itself (it reaches the
 * workflow without the wrapper).
 */
export function describeFailure(cause: Error | undefined, message: string): { errorType: string; errorMessage: string } {
  if (cause instanceof ApplicationFailure) return { errorType: cause.type ?? 'Error', errorMessage: cause.message };
  if (cause instanceof TimeoutFailure) {
    return { errorType: `Timeout${cause.timeoutType ? `:${String(cause.timeoutType)}` : ''}`, errorMessage: cause.message };
  }
  return { errorType: cause?.name ?? 'Error', errorMessage: cause?.message ?? message };
}

/** Patch: dispatch from lanes (runLanes); runs recorded before it replay on runPerActivityV1. */
const PER_ACTIVITY_LANES = 'per-activity-lanes';

export async function runPerActivity(r: RangeRun): Promise<RangeEnd> {
  return patched(PER_ACTIVITY_LANES) ? runLanes(r) : runPerActivityV1(r);
}

/**
 * One job's attempts, to its end: `runJob` under the batch's retry policy (parked at the
 * tenant-cap gate while throttled), `failJob` once its attempts are spent.
 */
function jobRunner(r: RangeRun, gate: AdmissionGate, halted: () => boolean, onStop: () => void) {
  const options = jobActivityOptions(r.plan);
  const ctl = r.control;
  return async (job: { id: string; seq: number }) => {
    let spent = 0;
    let parkedBefore = false;
    try {
      for (;;) {
        // Temporal attempts spent by throttled dispatches' earlier attempts count against the policy.
        const retry = spent > 0 && options.retry?.maximumAttempts ? { retry: { ...options.retry, maximumAttempts: options.retry.maximumAttempts - spent } } : {};
        const { runJob } = proxyActivities<Activities>({ ...options, ...retry, summary: `job #${job.seq}` });
        const outcome = await runJob({ jobId: job.id, tenantId: r.tenantId });
        if (outcome.status !== 'throttled') {
          countStatus(r.tally, outcome.status);
          return;
        }
        // The tenant is at its cap on jobs in flight and the job did not start: it keeps
        // its place in flight and waits at the gate (durable timers) to be dispatched again.
        spent += outcome.attemptsSpent ?? 0;
        await gate.park(parkedBefore);
        parkedBefore = true;
        await condition(() => halted() || !ctl.paused);
        if (halted()) return;
      }
    } catch (err) {
      if (isCancellation(err) || !(err instanceof ActivityFailure)) throw err;
      // A job whose attempts are spent is recorded failed even when the stop cancels the others.
      const ended = await CancellationScope.nonCancellable(() => bookkeeping.failJob({ jobId: job.id, epoch: r.plan.epoch, ...describeFailure(err.cause, err.message) }));
      countStatus(r.tally, ended.status);
      noteBatchFailed(ctl, ended.batchFailed);
      if (ctl.stop) onStop();
    }
  };
}

/**
 * Lanes, `concurrency` of them (more start when it is raised; those past a lowered
 * figure wait), each running one job after another from pages of ids in position
 * order. The same semantics as runPerActivityV1, with about half the promises per
 * job: the SDK's workflow sandbox records a stack trace for every promise a workflow
 * creates (temporalio/sdk-typescript#1587), most of the workflow thread's time in W1
 * per activity.
 */
async function runLanes(r: RangeRun): Promise<RangeEnd> {
  const ctl = r.control;
  // Attempts run in their own scope, so a crossed tolerance cancels them and nothing else.
  const attempts = new CancellationScope();
  let inFlight = 0;
  let failure: unknown;
  const halted = () => ctl.stop || failure !== undefined;
  // Tenant cap: throttled jobs wait here; no new job is dispatched while some do.
  const gate = admissionGate({ hold: () => ctl.paused, stopped: halted, maxWindow: () => ctl.concurrency });
  const runOne = jobRunner(r, gate, halted, () => attempts.cancel());

  // Pages of ids; `afterSeq` is the last job handed to a lane, so every job up to it
  // has been dispatched (lanes take them in order) and settles before the run ends.
  let page: { id: string; seq: number }[] = [];
  let at = 0;
  let afterSeq = r.cursor - 1;
  let exhausted = false;
  let fetching: Promise<void> | undefined;
  let continuing = false;
  const fetchPage = () =>
    (fetching ??= bookkeeping
      .listPendingJobs({ batchId: r.batchId, afterSeq, beforeSeq: r.toSeq, limit: PAGE_SIZE })
      .then((next) => {
        page = next;
        at = 0;
        exhausted = next.length === 0;
      })
      .finally(() => {
        fetching = undefined;
      }));

  const over = () => halted() || continuing || (exhausted && at >= page.length);
  const mayDispatch = (lane: number) => over() || (!ctl.paused && lane < ctl.concurrency && gate.parked === 0);
  const lane = async (index: number) => {
    for (;;) {
      if (!mayDispatch(index)) await condition(() => mayDispatch(index));
      if (over()) return;
      if (at >= page.length) {
        await fetchPage();
        continue;
      }
      const info = workflowInfo();
      if (info.continueAsNewSuggested || info.historyLength > MAX_HISTORY_EVENTS) {
        continuing = true;
        return;
      }
      const job = page[at++]!;
      afterSeq = job.seq;
      inFlight++;
      r.onInFlight(inFlight);
      try {
        await runOne(job);
      } finally {
        inFlight--;
        r.onInFlight(inFlight);
      }
    }
  };

  let lanes = 0;
  let running = 0;
  for (;;) {
    while (lanes < ctl.concurrency && !over()) {
      const index = lanes++;
      running++;
      // An error other than a job failure (which runOne records) stops dispatch; a
      // cancellation after the tolerance was crossed is the stop itself.
      void attempts
        .run(() => lane(index))
        .catch((err: unknown) => {
          if (ctl.stop && isCancellation(err)) return;
          failure ??= err;
        })
        .finally(() => running--);
    }
    await condition(() => running === 0 || (lanes < ctl.concurrency && !over()));
    if (running === 0) break;
  }
  if (failure !== undefined) throw failure;
  return continuing && !ctl.stop ? { done: false, continueFrom: afterSeq + 1 } : { done: true };
}

/** Dispatch as before the lanes (PER_ACTIVITY_LANES): kept so that runs recorded with it replay. */
async function runPerActivityV1(r: RangeRun): Promise<RangeEnd> {
  const ctl = r.control;
  // Attempts run in their own scope, so a crossed tolerance cancels them and nothing else.
  const attempts = new CancellationScope();
  let inFlight = 0;
  let failure: unknown;
  // Tenant cap: throttled jobs wait here; no new job is dispatched while some do.
  const gate = admissionGate({ hold: () => ctl.paused, stopped: () => ctl.stop || failure !== undefined, maxWindow: () => ctl.concurrency });
  const runOne = jobRunner(r, gate, () => ctl.stop || failure !== undefined, () => attempts.cancel());
  const settled = async () => {
    await condition(() => inFlight === 0);
    if (failure !== undefined) throw failure;
  };

  let afterSeq = r.cursor - 1;
  for (;;) {
    const page = await bookkeeping.listPendingJobs({ batchId: r.batchId, afterSeq, beforeSeq: r.toSeq, limit: PAGE_SIZE });
    if (page.length === 0) break;
    for (const job of page) {
      await condition(() => ctl.stop || failure !== undefined || (!ctl.paused && inFlight < ctl.concurrency && gate.parked === 0));
      if (ctl.stop || failure !== undefined) return settled().then(() => ({ done: true }));
      const info = workflowInfo();
      if (info.continueAsNewSuggested || info.historyLength > MAX_HISTORY_EVENTS) {
        await settled();
        return { done: false, continueFrom: afterSeq + 1 };
      }
      inFlight++;
      r.onInFlight(inFlight);
      afterSeq = job.seq;
      // An error other than a job failure (which runOne records) stops dispatch; a
      // cancellation after the tolerance was crossed is the stop itself.
      void attempts
        .run(() => runOne(job))
        .catch((err: unknown) => {
          if (ctl.stop && isCancellation(err)) return;
          failure ??= err;
        })
        .finally(() => {
          inFlight--;
          r.onInFlight(inFlight);
        });
    }
  }
  await settled();
  return { done: true };
}
