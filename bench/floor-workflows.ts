/**
 * The bench's `floor` workload: what one Temporal activity per job costs on this dev
 * server with no job system around it. No PostgreSQL, no slots, no bookkeeping: a
 * workflow keeps `concurrency` no-op activities in flight (eagerly dispatched, as the
 * batch workflows' are) until `jobs` have completed, continuing as new every
 * RUN_JOBS jobs as the batch workflows do. Not part of the product's bundle.
 */
import { continueAsNew, proxyActivities, proxyLocalActivities } from '@temporalio/workflow';

export interface FloorArgs {
  jobs: number;
  concurrency: number;
  /** Every `failEvery`-th job fails its first two attempts (W3's shape); 0: none. */
  failEvery: number;
  retryInitialIntervalMs: number;
  /** Local activities instead (no server round trip per job; a marker event each). */
  local?: boolean;
  /** Jobs done by earlier runs (continue-as-new). */
  done?: number;
}

/** Jobs per run: about 6 history events each keeps a run well under the server's limits. */
const RUN_JOBS = 5_000;

export async function floorWorkflow(a: FloorArgs): Promise<number> {
  const options = {
    startToCloseTimeout: '1 minute',
    retry: { initialInterval: a.retryInitialIntervalMs, backoffCoefficient: 2, maximumAttempts: 4 },
  };
  type Noop = { noop(i: number, failEvery: number): Promise<void> };
  const { noop } = a.local ? proxyLocalActivities<Noop>(options) : proxyActivities<Noop>(options);
  const first = a.done ?? 0;
  const end = Math.min(a.jobs, first + RUN_JOBS);
  let next = first;
  const lane = async () => {
    while (next < end) await noop(next++, a.failEvery);
  };
  await Promise.all(Array.from({ length: a.concurrency }, lane));
  if (end < a.jobs) await continueAsNew<typeof floorWorkflow>({ ...a, done: end });
  return end;
}
