/**
 * batchWorkflow — one per batch, id `batch-<batchId>`.
 *
 * Shape:
 *   startBatch                      pending → running; the plan (ids, numbers, policy, control);
 *                                   a small chunked batch's jobs run in it too (`small`)
 *   ≤ a range's jobs: run inline    in the batch's mode (per-activity.ts or chunked.ts),
 *                                   continuing as new with a cursor when Temporal suggests it
 *                                   (a range: 100,000 jobs chunked, 50,000 one per activity)
 *   > a range's jobs: fan out       batchRangeWorkflow children (fan-out.ts)
 *   finishBatch                     completed / partial / failed, from the counters;
 *   or abortBatch                   failed, the rest cancelled, once the tolerance is crossed
 *   afterBatchFinished              document.analyze batches only: near-duplicate clusters
 * Job payloads never enter the workflow: only ids, positions and counts do.
 *
 * Control (control.ts): `pause`, `resume` and `setConcurrency` updates change the
 * running dispatch (and are forwarded to the children) and are recorded on the row
 * before they answer. A `redrive` signal (the API reset failed jobs to pending) makes a
 * run that is still closing continue as new; a closed one is replaced by a new run.
 * Cancelling the workflow cancels running attempts (they see it through heartbeats)
 * and, in a non-cancellable scope, marks every unfinished job and the batch cancelled.
 */
import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  defineQuery,
  isCancellation,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { Activities, BatchPlan, BatchSnapshot } from '../activities/index.js';
import { chunkTimeoutMs, LOCAL_CHUNK_MAX } from '../lib/chunk-shape.js';
import { SearchAttributes, type BatchStatus } from '../lib/names.js';
import {
  BATCH_NOT_RUNNING,
  MAX_CONCURRENCY,
  pauseUpdate,
  redriveSignal,
  resumeUpdate,
  setConcurrencyUpdate,
  type ControlState,
  type ControlView,
  type RunControl,
} from './control.js';
import { createFanOut, fanOut, forwardControl, rangeSizeOf, type FanOut } from './fan-out.js';
import { runRange } from './range.js';
import { bookkeeping, BOOKKEEPING_OPTIONS, type HeldRetry, type Tally } from './shared.js';
import { maybeStartThresholdConsolidation } from './consolidation-trigger.js';
import { afterBatchFinished } from './documents.js';

export { CHUNK_RANGE_SIZE, RANGE_SIZE } from './fan-out.js';

export interface BatchWorkflowArgs {
  batchId: string;
  tenantId: string;
  /** Jobs before this position have been dispatched and settled; set by continue-as-new. */
  cursor?: number;
  /** Set by continue-as-new: local-mode jobs between attempts. */
  retries?: HeldRetry[];
  /**
   * Set by the API on a chunked batch of at most LOCAL_CHUNK_MAX jobs: startBatch runs
   * them itself, one local activity instead of two (most of a small batch's latency).
   * `jobTimeoutMs` (the job type's) bounds how long that activity may take.
   */
  small?: { jobTimeoutMs: number };
}

/** startBatch; on a small batch's first run it runs the batch's jobs too (`firstChunk`). */
function startRun(args: BatchWorkflowArgs): Promise<BatchPlan> {
  if (!args.small || args.cursor !== undefined) return bookkeeping.startBatch({ batchId: args.batchId });
  const { startBatch } = proxyLocalActivities<Activities>({
    ...BOOKKEEPING_OPTIONS,
    startToCloseTimeout: chunkTimeoutMs(args.small.jobTimeoutMs, LOCAL_CHUNK_MAX, 1),
  });
  return startBatch({ batchId: args.batchId, runSmall: true });
}

export interface BatchProgress extends Tally {
  batchId: string;
  status: BatchStatus;
  mode: BatchPlan['mode'];
  total: number;
  running: number;
  processed: number;
  percent: number;
  paused: boolean;
  concurrency: number;
}

export const progressQuery = defineQuery<BatchProgress>('progress');

export async function batchWorkflow(args: BatchWorkflowArgs): Promise<BatchSnapshot> {
  const { batchId } = args;
  const tally: Tally = { succeeded: 0, failed: 0, cancelled: 0 };
  const ctl: RunControl = { paused: false, concurrency: 1, stop: false, failureLimit: null };
  let plan: BatchPlan | undefined;
  let status: BatchStatus = 'pending';
  let running = 0;
  let ended = false;
  let redriven = false;
  let fan: FanOut | undefined;

  setHandler(progressQuery, () => {
    const processed = tally.succeeded + tally.failed + tally.cancelled;
    const total = plan?.total ?? 0;
    return {
      batchId,
      status,
      mode: plan?.mode ?? 'activity',
      total,
      ...tally,
      running,
      processed,
      percent: total === 0 ? 100 : Math.floor((processed * 10_000) / total) / 100,
      paused: ctl.paused,
      concurrency: ctl.concurrency,
    };
  });
  setHandler(redriveSignal, () => {
    redriven = true;
  });

  // Handlers are set before the first await so an update sent right after the start
  // finds them; they wait for the plan, then act on the live state.
  const control = async (change: Partial<ControlState>): Promise<ControlView> => {
    await condition(() => plan !== undefined || ended);
    if (ended || status !== 'running') {
      throw ApplicationFailure.create({ type: BATCH_NOT_RUNNING, nonRetryable: true, message: `batch ${batchId} is ${status}, not running` });
    }
    Object.assign(ctl, change);
    if (fan) await forwardControl(fan, ctl);
    await bookkeeping.setBatchControl({ batchId, paused: ctl.paused, concurrency: ctl.concurrency });
    if (!ended) upsertSearchAttributes([{ key: SearchAttributes.BatchStatus, value: ctl.paused ? 'paused' : 'running' }]);
    return { batchId, paused: ctl.paused, concurrency: ctl.concurrency };
  };
  const refuseEnded = () => {
    if (ended) throw new Error(`batch ${batchId} has ended (${status})`);
  };
  setHandler(pauseUpdate, () => control({ paused: true }), { validator: refuseEnded });
  setHandler(resumeUpdate, () => control({ paused: false }), { validator: refuseEnded });
  setHandler(setConcurrencyUpdate, (concurrency) => control({ concurrency }), {
    validator: (concurrency) => {
      refuseEnded();
      if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > MAX_CONCURRENCY) {
        throw new Error(`concurrency must be a whole number from 1 to ${MAX_CONCURRENCY}`);
      }
    },
  });

  const settle = (final: BatchSnapshot) => {
    status = final.status;
    Object.assign(tally, { succeeded: final.succeeded, failed: final.failed, cancelled: final.cancelled });
    upsertSearchAttributes([{ key: SearchAttributes.BatchStatus, value: status }]);
    return final;
  };
  /** A redrive that arrived while this run was closing is run by the next one. */
  const redriveIfAsked = async () => {
    if (!redriven) return;
    await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
    await continueAsNew<typeof batchWorkflow>({ batchId, tenantId: args.tenantId });
  };

  try {
    const started = await startRun(args);
    // A redrive signal that started (or reached) this run is served by it: the plan read its pending jobs.
    redriven = false;
    Object.assign(tally, { succeeded: started.succeeded, failed: started.failed, cancelled: started.cancelled });
    Object.assign(ctl, { paused: started.paused, concurrency: started.concurrency, failureLimit: started.failureLimit });
    status = started.status;
    plan = started;
    if (status !== 'running') {
      ended = true; // ended before this run started (e.g. cancelled while pending)
      return started;
    }
    if (args.cursor === undefined) upsertSearchAttributes([{ key: SearchAttributes.BatchStatus, value: ctl.paused ? 'paused' : 'running' }]);

    let finishedByRange: (BatchSnapshot & { thresholdSet: boolean }) | undefined;
    const rangeSize = rangeSizeOf(started);
    if (started.total <= rangeSize) {
      const end = await runRange({
        batchId,
        tenantId: args.tenantId,
        plan: started,
        cursor: args.cursor ?? 0,
        toSeq: started.total,
        control: ctl,
        tally,
        onInFlight: (n) => {
          running = n;
        },
        finishEpoch: started.epoch,
        firstChunk: started.firstChunk,
        retries: args.retries,
      });
      if (end.done) finishedByRange = end.finished;
      if (!end.done && !ctl.stop) {
        // Updates record their change on the row, which the next run reads: let them finish.
        await condition(allHandlersFinished);
        await continueAsNew<typeof batchWorkflow>({ ...args, cursor: end.continueFrom, retries: end.retries });
      }
    } else {
      fan = createFanOut(started, rangeSize);
      await fanOut(fan, {
        batchId,
        tenantId: args.tenantId,
        plan: started,
        ctl,
        tally,
        onRunning: (n) => {
          running = n;
        },
      });
    }
    ended = true;
    const ending =
      finishedByRange && !ctl.stop
        ? finishedByRange
        : await CancellationScope.nonCancellable(() =>
            ctl.stop ? bookkeeping.abortBatch({ batchId, epoch: started.epoch }) : bookkeeping.finishBatch({ batchId, epoch: started.epoch }),
          );
    const final = settle(ending);
    // Post-processing never fails the batch, whose outcome is written already:
    // near-duplicate clusters for document batches, then the tenant's consolidation
    // threshold (skipped for tenants that set none: most batch ends, one step less).
    await afterBatchFinished(batchId, started.jobType);
    if (!('thresholdSet' in ending) || ending.thresholdSet) await maybeStartThresholdConsolidation(batchId);
    await redriveIfAsked();
    return final;
  } catch (err) {
    if (!isCancellation(err)) throw err;
    ended = true;
    settle(await CancellationScope.nonCancellable(() => bookkeeping.cancelBatch({ batchId, epoch: plan?.epoch })));
    await redriveIfAsked();
    throw err;
  }
}
