/**
 * Fan-out for batches of more than a range's jobs (rangeSizeOf): one batchRangeWorkflow
 * child per range of positions, a few at a time, the concurrency shared among them. The
 * parent keeps the control state and forwards every change to the running children;
 * the first child to report the failure tolerance crossed stops the others.
 */
import {
  CancellationScope,
  condition,
  executeChild,
  getExternalWorkflowHandle,
  isCancellation,
  patched,
  workflowInfo,
} from '@temporalio/workflow';
import type { BatchPlan } from '../activities/index.js';
import { SearchAttributes } from '../lib/names.js';
import { rangeControlSignal, type RunControl } from './control.js';
import { batchRangeWorkflow } from './range.js';
import type { Tally } from './shared.js';

/** Jobs per child workflow when a batch of one activity per job fans out. */
export const RANGE_SIZE = 50_000;
/**
 * Jobs per child workflow when a chunked batch fans out. A chunked range's history is a
 * few events per chunk of up to 5,000 jobs (about 130 for 100,000), and a batch of this
 * size runs in one workflow with no children to start, wait for and finish: W1 chunked
 * 1.11 s against 1.16, W3 1.72 against 1.92, W4 10.4 s against 12.1 (session 10).
 */
export const CHUNK_RANGE_SIZE = 100_000;
/** Patch: chunked batches are cut into ranges of CHUNK_RANGE_SIZE (workflows of before it used RANGE_SIZE). */
const CHUNK_RANGES = 'chunk-ranges-100k';

/** Jobs per range for this batch: a batch of at most this many runs in its own workflow. */
export function rangeSizeOf(plan: Pick<BatchPlan, 'mode'>): number {
  return plan.mode === 'chunk' && patched(CHUNK_RANGES) ? CHUNK_RANGE_SIZE : RANGE_SIZE;
}
const MAX_CHILDREN = 4;

export interface FanOut {
  /** Positions per child. */
  readonly rangeSize: number;
  /** Ids of the children running now, for forwarding control changes. */
  readonly children: Set<string>;
  /** The concurrency each child gets while `inParallel` children share the batch's. */
  share(concurrency: number): number;
}

export function createFanOut(plan: BatchPlan, rangeSize: number): FanOut {
  const inParallel = Math.min(MAX_CHILDREN, Math.ceil(plan.total / rangeSize));
  return { rangeSize, children: new Set(), share: (concurrency) => Math.max(1, Math.ceil(concurrency / inParallel)) };
}

/** Sends the current control state to every running child; a child that has just closed is skipped. */
export async function forwardControl(f: FanOut, ctl: RunControl): Promise<void> {
  const state = { paused: ctl.paused, concurrency: f.share(ctl.concurrency) };
  await Promise.all(
    [...f.children].map((id) =>
      getExternalWorkflowHandle(id)
        .signal(rangeControlSignal, state)
        .catch(() => undefined),
    ),
  );
}

export async function fanOut(
  f: FanOut,
  a: { batchId: string; tenantId: string; plan: BatchPlan; ctl: RunControl; tally: Tally; onRunning: (n: number) => void },
): Promise<void> {
  const { plan, ctl } = a;
  const ranges = Math.ceil(plan.total / f.rangeSize);
  const inParallel = Math.min(MAX_CHILDREN, ranges);
  const { workflowId } = workflowInfo();
  // Children run in their own scope, so a crossed tolerance cancels them and nothing else.
  const scope = new CancellationScope();
  let active = 0;
  let failure: unknown;
  try {
    await startRanges();
    await condition(() => active === 0);
  } catch (err) {
    // Cancelled: the children are cancelled with this scope; wait until they have closed
    // (cancelled, their attempts cancelled) rather than leave them to be terminated.
    if (isCancellation(err)) await CancellationScope.nonCancellable(() => condition(() => active === 0));
    throw err;
  }
  if (failure !== undefined) throw failure;

  async function startRanges() {
    for (let i = 0; i < ranges; i++) {
      await condition(() => active < inParallel || failure !== undefined || ctl.stop);
      if (failure !== undefined || ctl.stop) break;
      const fromSeq = i * f.rangeSize;
      const toSeq = Math.min(plan.total, fromSeq + f.rangeSize);
      const childId = `${workflowId}-range-${i}`;
      active++;
      f.children.add(childId);
      a.onRunning(active);
      void scope
        .run(() =>
          executeChild(batchRangeWorkflow, {
            workflowId: childId,
            args: [
              {
                batchId: a.batchId,
                tenantId: a.tenantId,
                plan,
                fromSeq,
                toSeq,
                control: { paused: ctl.paused, concurrency: f.share(ctl.concurrency) },
              },
            ],
            typedSearchAttributes: [
              { key: SearchAttributes.TenantId, value: a.tenantId },
              { key: SearchAttributes.BatchId, value: a.batchId },
              { key: SearchAttributes.JobType, value: plan.jobType },
            ],
            staticSummary: `jobs ${fromSeq}–${toSeq - 1} of batch ${a.batchId}`,
          }),
        )
        .then((t) => {
          a.tally.succeeded += t.succeeded;
          a.tally.failed += t.failed;
          if (t.stopped && !ctl.stop) {
            ctl.stop = true;
            scope.cancel();
          }
        })
        .catch((err: unknown) => {
          if (ctl.stop && isCancellation(err)) return;
          failure ??= err;
        })
        .finally(() => {
          active--;
          f.children.delete(childId);
          a.onRunning(active);
        });
    }
  }
}
