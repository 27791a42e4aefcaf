/**
 * Per-activity successes are counted on stripes of their batch, not on its row
 * (db/migrations/20261203000000_batch_success_stripes.sql): the counters read the same
 * as if they were on the row, whatever runs at once, and a batch's end folds them in.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { foldSuccessStripes } from '../../db/batch-counters.js';
import { finishBatch, getBatchById, markBatchRunning } from '../../db/batches.js';
import { startAttempt, succeedJob, succeedJobs } from '../../db/job-attempts.js';
import { failJob, listJobs } from '../../db/jobs.js';
import { createHarness, type Harness } from '../support/harness.js';
import { insertSleepBatch } from '../support/sleep-batch.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness({ worker: false });
});
afterAll(() => h?.close());

async function runningBatch(jobs: number) {
  const t = await h.tenant();
  const batch = await insertSleepBatch(h.sql, t.id, { mode: 'activity', concurrency: 10, items: Array.from({ length: jobs }, () => ({ ms: 0 })) });
  await markBatchRunning(h.sql, batch.id);
  const rows = await listJobs(h.sql, batch.id, { afterSeq: -1, limit: jobs });
  for (const j of rows) await startAttempt(h.sql, j.id);
  return { batch, jobs: rows };
}

const rowCounter = async (batchId: string) =>
  (await h.sql<{ succeeded: number; failed: number }[]>`select succeeded_jobs as succeeded, failed_jobs as failed from batches where id = ${batchId}`)[0]!;
const stripes = async (batchId: string) =>
  (await h.sql<{ n: number }[]>`select count(*)::int as n from batch_success_stripes where batch_id = ${batchId}`)[0]!.n;

it('successes ended at once, with folds among them, are each counted once', async () => {
  const { batch, jobs } = await runningBatch(300);
  // 200 at once (the pool runs 10 at a time), then each again: the repeat ends nothing.
  const first = jobs.slice(0, 200);
  const ended = await Promise.all(first.map((j) => succeedJob(h.sql, j.id, 1, { ok: true })));
  expect(ended.every((e) => e?.ended && e.status === 'succeeded')).toBe(true);
  const again = await Promise.all(first.map((j) => succeedJob(h.sql, j.id, 1, { ok: true })));
  expect(again.every((e) => e && !e.ended && e.status === 'succeeded')).toBe(true);
  expect((await getBatchById(h.sql, batch.id))!.succeededJobs).toBe(200);
  // Counted on stripes, not on the row.
  expect((await rowCounter(batch.id)).succeeded).toBe(0);
  expect(await stripes(batch.id)).toBeGreaterThan(1);

  // 99 more while the stripes are folded into the row, again and again.
  const more = jobs.slice(200, 299);
  await Promise.all([...more.map((j) => succeedJob(h.sql, j.id, 1, null)), ...Array.from({ length: 20 }, () => foldSuccessStripes(h.sql, batch.id))]);
  expect((await getBatchById(h.sql, batch.id))!.succeededJobs).toBe(299);

  // A failure still counts on the row, and says where the batch's failures stand.
  const failed = await failJob(h.sql, jobs[299]!.id, 'Boom', 'failed for the test');
  expect(failed).toMatchObject({ status: 'failed', ended: true, batchFailed: 1 });

  // The end folds what is left: the row holds the whole count, and the outcome is from it.
  const done = await finishBatch(h.sql, batch.id, 0);
  expect(done).toMatchObject({ status: 'partial', succeededJobs: 299, failedJobs: 1 });
  expect(await rowCounter(batch.id)).toEqual({ succeeded: 299, failed: 1 });
  expect(await stripes(batch.id)).toBe(0);
});

it('a batch whose jobs all succeeded on stripes ends completed, and only once all have ended', async () => {
  const { batch, jobs } = await runningBatch(40);
  await Promise.all(jobs.slice(0, 39).map((j) => succeedJob(h.sql, j.id, 1, null)));
  expect(await finishBatch(h.sql, batch.id, 0, { onlyIfAllEnded: true })).toBeUndefined();
  await succeedJob(h.sql, jobs[39]!.id, 1, null);
  expect(await finishBatch(h.sql, batch.id, 0, { onlyIfAllEnded: true })).toMatchObject({ status: 'completed', succeededJobs: 40 });
});

it('grouped successes over several batches, with their folds among them: no deadlock, each counted once', async () => {
  // Three batches; each statement ends jobs of all three, as the worker's group commit does.
  const batches = await Promise.all([runningBatch(120), runningBatch(120), runningBatch(120)]);
  const groups = Array.from({ length: 40 }, (_, g) =>
    batches.flatMap(({ jobs }) => jobs.filter((_, i) => i % 40 === g).map((j) => ({ jobId: j.id, attempt: 1, output: null }))),
  );
  // A statement that counted on several stripes of a batch could deadlock with the batch's
  // fold, which locks them in an order of its own (PostgreSQL would abort one: 40P01).
  await Promise.all([
    ...groups.map((group) => succeedJobs(h.sql, group)),
    ...Array.from({ length: 15 }, (_, i) => foldSuccessStripes(h.sql, batches[i % 3]!.batch.id)),
  ]);
  for (const { batch } of batches) expect((await getBatchById(h.sql, batch.id))!.succeededJobs).toBe(120);
});
