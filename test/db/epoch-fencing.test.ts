/**
 * A local activity re-run after a failed workflow task (its first run's effects are
 * already in the database) must not undo a redrive that came in between.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { redriveBatch } from '../../db/batch-control.js';
import { cancelBatch, finishBatch, getBatchById, insertBatch, markBatchRunning } from '../../db/batches.js';
import { countJobsByStatus, failJob, listJobs } from '../../db/jobs.js';
import { createHarness, type Harness } from '../support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness({ worker: false });
});
afterAll(() => h?.close());

it("a stale run's failJob, finishBatch and cancelBatch do not undo a redrive", async () => {
  const t = await h.tenant();
  const batch = await h.sql.begin((tx) =>
    insertBatch(
      tx,
      {
        tenantId: t.id,
        createdBy: null,
        jobType: 'sleep',
        mode: 'activity',
        concurrency: 1,
        maxRetries: 0,
        retryInitialIntervalMs: 10,
        retryBackoffCoefficient: 2,
        retryMaximumIntervalMs: 100,
        workflowIdOf: (id) => `fencing-${id}`,
      },
      [{ ms: 0 }, { ms: 0 }],
    ),
  );
  const started = (await markBatchRunning(h.sql, batch.id))!;
  const [a, b] = await listJobs(h.sql, batch.id, { afterSeq: -1, limit: 2 });
  // The first run: both jobs fail, the batch ends failed.
  await failJob(h.sql, a!.id, 'TransientJobError', 'boom', started.redrives);
  await failJob(h.sql, b!.id, 'TransientJobError', 'boom', started.redrives);
  expect((await finishBatch(h.sql, batch.id, started.redrives))!.status).toBe('failed');

  // A redrive resets both jobs and the batch.
  const redriven = await redriveBatch(h.sql, t.id, batch.id, undefined);
  expect(redriven.ok).toBe(true);
  const after = (await getBatchById(h.sql, batch.id))!;
  expect(after).toMatchObject({ status: 'running', failedJobs: 0, redrives: started.redrives + 1 });

  // The first run's local activities run again (stale epoch): nothing changes.
  await failJob(h.sql, b!.id, 'TransientJobError', 'boom', started.redrives);
  await finishBatch(h.sql, batch.id, started.redrives);
  await cancelBatch(h.sql, batch.id, started.redrives);
  expect(await getBatchById(h.sql, batch.id)).toMatchObject({ status: 'running', failedJobs: 0, cancelledJobs: 0 });
  expect(await countJobsByStatus(h.sql, batch.id)).toMatchObject({ pending: 2, failed: 0, cancelled: 0 });

  // The new run's writes (current epoch) apply.
  await failJob(h.sql, b!.id, 'TransientJobError', 'again', after.redrives);
  expect((await getBatchById(h.sql, batch.id))!.failedJobs).toBe(1);
});
