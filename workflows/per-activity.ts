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
  proxyActivities,
  TimeoutFailure,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { noteBatchFailed } from './control.js';
import { bookkeeping, countStatus, jobActivityOptions, type RangeEnd, type RangeRun } from './shared.js';
import { admissionGate } from './throttle.js';

/** Ids fetched per page: small enough for one activity result, large enough to keep dispatch busy. */
const PAGE_SIZE = 500;
/** Continue-as-new well before the server's limits even if the suggestion comes late. */
export const MAX_HISTORY_EVENTS = 8_000;

/** The failure type and message of a job's last attempt, whatever ended it. */
function describeFailure(err: ActivityFailure): { errorType: string; errorMessage: string } {
  const cause = err.cause;
  if (cause instanceof ApplicationFailure) return { errorType: cause.type ?? 'Error', errorMessage: cause.message };
  if (cause instanceof TimeoutFailure) {
    return { errorType: `Timeout${cause.timeoutType ? `:${String(cause.timeoutType)}` : ''}`, errorMessage: cause.message };
  }
  return { errorType: cause?.name ?? 'Error', errorMessage: cause?.message ?? err.message };
}

export async function runPerActivity(r: RangeRun): Promise<RangeEnd> {
  const options = jobActivityOptions(r.plan);
  const ctl = r.control;
  // Attempts run in their own scope, so a crossed tolerance cancels them and nothing else.
  const attempts = new CancellationScope();
  let inFlight = 0;
  let failure: unknown;
  // Tenant cap: throttled jobs wait here; no new job is dispatched while some do.
  const gate = admissionGate({ hold: () => ctl.paused, stopped: () => ctl.stop || failure !== undefined, maxWindow: () => ctl.concurrency });

  const runOne = async (job: { id: string; seq: number }) => {
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
        await condition(() => ctl.stop || failure !== undefined || !ctl.paused);
        if (ctl.stop || failure !== undefined) return;
      }
    } catch (err) {
      if (isCancellation(err) || !(err instanceof ActivityFailure)) throw err;
      // A job whose attempts are spent is recorded failed even when the stop cancels the others.
      const ended = await CancellationScope.nonCancellable(() => bookkeeping.failJob({ jobId: job.id, epoch: r.plan.epoch, ...describeFailure(err) }));
      countStatus(r.tally, ended.status);
      noteBatchFailed(ctl, ended.batchFailed);
      if (ctl.stop) attempts.cancel();
    }
  };
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
