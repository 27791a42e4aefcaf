/**
 * The bench's `floor` workload: what one Temporal activity per job costs on this dev
 * server with no job system around it. No PostgreSQL, no slots, no bookkeeping: a
 * workflow keeps `concurrency` no-op activities in flight (eagerly dispatched, as the
 * batch workflows' are) until `jobs` have completed. Not part of the product's bundle.
 */
import { proxyActivities } from '@temporalio/workflow';

export interface FloorArgs {
  jobs: number;
  concurrency: number;
  /** Every `failEvery`-th job fails its first two attempts (W3's shape); 0: none. */
  failEvery: number;
  retryInitialIntervalMs: number;
}

export async function floorWorkflow(a: FloorArgs): Promise<number> {
  const { noop } = proxyActivities<{ noop(i: number, failEvery: number): Promise<void> }>({
    startToCloseTimeout: '1 minute',
    retry: { initialInterval: a.retryInitialIntervalMs, backoffCoefficient: 2, maximumAttempts: 4 },
  });
  let next = 0;
  let done = 0;
  const lane = async () => {
    while (next < a.jobs) {
      await noop(next++, a.failEvery);
      done++;
    }
  };
  await Promise.all(Array.from({ length: a.concurrency }, lane));
  return done;
}
