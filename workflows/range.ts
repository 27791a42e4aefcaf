/**
 * batchRangeWorkflow — a child of batchWorkflow that owns the jobs at positions
 * [fromSeq, toSeq) of a large batch. Runs them in the batch's mode and continues as new
 * (carrying its cursor, tally and control state) before its history grows large. It
 * never decides the batch's outcome: the parent does, once every range is done.
 * The parent signals pause, resume and concurrency changes (`control`); a range that
 * sees the batch's failures pass the tolerance stops and says so (`stopped`), and
 * the parent then cancels the other ranges.
 */
import { allHandlersFinished, condition, continueAsNew, defineQuery, setHandler } from '@temporalio/workflow';
import type { BatchPlan } from '../activities/index.js';
import { rangeControlSignal, type ControlState, type RunControl } from './control.js';
import { runChunked } from './chunked.js';
import { runLocal } from './local.js';
import { runPerActivity } from './per-activity.js';
import type { HeldRetry, RangeEnd, RangeRun, Tally } from './shared.js';

export interface BatchRangeArgs {
  batchId: string;
  tenantId: string;
  plan: BatchPlan;
  fromSeq: number;
  toSeq: number;
  /** Pause and this range's share of the concurrency, as the parent last knew them. */
  control: ControlState;
  /** Set by continue-as-new. */
  cursor?: number;
  tally?: Tally;
  /** Set by continue-as-new: local-mode jobs between attempts. */
  retries?: HeldRetry[];
}

export interface RangeResult extends Tally {
  /** The batch's failure tolerance was crossed: this range stopped and cancelled what it ran. */
  stopped: boolean;
}

export interface RangeProgress extends Tally {
  fromSeq: number;
  toSeq: number;
  cursor: number;
  running: number;
  paused: boolean;
  concurrency: number;
}

export const rangeProgressQuery = defineQuery<RangeProgress>('progress');

/** Runs [cursor, toSeq) in the plan's mode. */
export function runRange(r: RangeRun): Promise<RangeEnd> {
  if (r.plan.mode === 'chunk') return runChunked(r);
  return r.plan.mode === 'local' ? runLocal(r) : runPerActivity(r);
}

export async function batchRangeWorkflow(args: BatchRangeArgs): Promise<RangeResult> {
  const tally: Tally = args.tally ?? { succeeded: 0, failed: 0, cancelled: 0 };
  const cursor = args.cursor ?? args.fromSeq;
  const control: RunControl = { ...args.control, stop: false, failureLimit: args.plan.failureLimit };
  let running = 0;
  setHandler(rangeProgressQuery, () => ({
    ...tally,
    fromSeq: args.fromSeq,
    toSeq: args.toSeq,
    cursor,
    running,
    paused: control.paused,
    concurrency: control.concurrency,
  }));
  setHandler(rangeControlSignal, (state) => {
    control.paused = state.paused;
    control.concurrency = state.concurrency;
  });

  const end = await runRange({
    batchId: args.batchId,
    tenantId: args.tenantId,
    plan: args.plan,
    cursor,
    toSeq: args.toSeq,
    control,
    tally,
    onInFlight: (n) => {
      running = n;
    },
    retries: args.retries,
  });
  if (!end.done && !control.stop) {
    await condition(allHandlersFinished);
    const next: BatchRangeArgs = {
      ...args,
      cursor: end.continueFrom,
      tally,
      control: { paused: control.paused, concurrency: control.concurrency },
      retries: end.retries,
    };
    await continueAsNew<typeof batchRangeWorkflow>(next);
  }
  return { ...tally, stopped: control.stop };
}
