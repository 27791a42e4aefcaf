/**
 * One tenant's big batch must not starve another tenant's small one. The worker has
 * few activity slots and the big batch keeps far more attempts queued than that; the
 * small batch's attempts are queued after them. Without fair dispatch they wait for
 * the big batch's whole backlog; with it (fairness key = tenant) they are interleaved.
 * The assertion is on progress counts, not on time.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createHarness, sleepItems, type Harness } from '../support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness({ worker: false });
  await h.startWorker({ maxConcurrentActivities: 8 });
});
afterAll(() => h?.close());

it("finishes a small tenant's batch while a big tenant's batch still has most of its backlog", async () => {
  const big = await h.tenant('big');
  const small = await h.tenant('small');
  const total = 400;
  const { id: bigId } = await h.submit(big.key, {
    type: 'sleep',
    mode: 'activity',
    concurrency: total,
    items: sleepItems(Array.from({ length: total }, () => ({ ms: 150 }))),
  });
  // The big batch's backlog is queued once it has started working through it.
  await h.waitForBatch(big.key, bigId, { until: (b) => b.counters.succeeded >= 8 });
  const { id: smallId } = await h.submit(small.key, {
    type: 'sleep',
    mode: 'activity',
    concurrency: 10,
    items: sleepItems(Array.from({ length: 10 }, () => ({ ms: 0 }))),
  });
  const done = await h.waitForBatch(small.key, smallId);
  const bigNow = await h.waitForBatch(big.key, bigId, { until: () => true });
  expect(done.status).toBe('completed');
  expect(bigNow.status).toBe('running');
  // FIFO dispatch would have run the ~390 queued big-batch attempts first.
  expect(bigNow.counters.succeeded).toBeLessThan(total / 2);
  const final = await h.waitForBatch(big.key, bigId);
  expect(final.counters).toMatchObject({ total, succeeded: total });
});
