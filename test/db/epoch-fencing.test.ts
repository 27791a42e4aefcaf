/**
 * A local activity re-run after a failed workflow task (its first run's effects are
 * already in the database) must not undo a redrive that came in between.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { redriveBatch } from '../../db/batch-control.js';
import { cancelBatch, finishBatch, getBatchById, markBatchRunning } from '../../db/batches.js';
import { recordAttemptError, startAttempt, succeedJob } from '../../db/job-attempts.js';
import { countJobsByStatus, failJob, listJobs } from '../../db/jobs.js';
import { extendClaim, openClaim } from '../../db/chunk-claims.js';
import { recordOutcomes } from '../../db/chunks.js';
import { createHarness, type Harness } from '../support/harness.js';
import { insertSleepBatch } from '../support/sleep-batch.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness({ worker: false });
});
afterAll(() => h?.close());

const newBatch = (t: { id: string }, mode: 'activity' | 'chunk', items: unknown[]) => insertSleepBatch(h.sql, t.id, { mode, maxRetries: 3, items });

it('an attempt timed out while it ran cannot end the job once a later attempt has started', async () => {
  const t = await h.tenant();
  const batch = await newBatch(t, 'activity', [{ ms: 0 }]);
  await markBatchRunning(h.sql, batch.id);
  const [job] = await listJobs(h.sql, batch.id, { afterSeq: -1, limit: 1 });
  const first = await startAttempt(h.sql, job!.id);
  const second = await startAttempt(h.sql, job!.id);
  expect([first, second].map((a) => a?.started && a.attempts)).toEqual([1, 2]);
  // The first attempt finishes late: refused, and its error does not overwrite the job's.
  expect(await succeedJob(h.sql, job!.id, 1, { late: true })).toMatchObject({ status: 'running', ended: false });
  await recordAttemptError(h.sql, job!.id, 1, 'TransientJobError', 'late');
  expect(await getBatchById(h.sql, batch.id)).toMatchObject({ succeededJobs: 0 });
  // The latest attempt ends it, once.
  // The write that ends the job says so; a repeat of it (a retried activity) ends nothing.
  expect(await succeedJob(h.sql, job!.id, 2, { late: false })).toMatchObject({ status: 'succeeded', ended: true });
  expect(await succeedJob(h.sql, job!.id, 2, { late: false })).toMatchObject({ status: 'succeeded', ended: false });
  const [row] = await listJobs(h.sql, batch.id, { afterSeq: -1, limit: 1 });
  expect(row).toMatchObject({ status: 'succeeded', attempts: 2, output: { late: false }, errorType: null });
  expect(await getBatchById(h.sql, batch.id)).toMatchObject({ succeededJobs: 1 });
});

it("a chunk's later try takes its claim over: the older try can neither write outcomes nor claim more", async () => {
  const t = await h.tenant();
  const batch = await newBatch(t, 'chunk', [{ ms: 0 }, { ms: 0 }, { ms: 0 }]);
  await markBatchRunning(h.sql, batch.id);
  const jobs = await listJobs(h.sql, batch.id, { afterSeq: -1, limit: 3 });
  const first = { batchId: batch.id, chunk: 'wf/run/1', owner: crypto.randomUUID() };
  expect(await openClaim(h.sql, first, 0)).toEqual({ prior: null, through: 0 });
  expect(await extendClaim(h.sql, first, 1)).toBe(true);
  const done = ({ id, seq }: { id: string; seq: number }) => ({ id, seq, status: 'succeeded' as const, output: null, errorType: null, errorMessage: null });
  expect(await recordOutcomes(h.sql, first, [done(jobs[0]!)])).toMatchObject({ succeeded: 1, owned: true });

  // A second try (the first one's worker looked dead) learns what the first had claimed.
  const second = { ...first, owner: crypto.randomUUID() };
  expect(await openClaim(h.sql, second, 0)).toEqual({ prior: 1, through: 1 });
  // The first try goes on: fenced off.
  expect(await recordOutcomes(h.sql, first, [done(jobs[1]!)])).toMatchObject({ succeeded: 0, owned: false });
  expect(await extendClaim(h.sql, first, 2)).toBe(false);
  expect(await getBatchById(h.sql, batch.id)).toMatchObject({ succeededJobs: 1 });
  // The second try's writes land.
  expect(await recordOutcomes(h.sql, second, [done(jobs[1]!), done(jobs[2]!)])).toMatchObject({ succeeded: 2, owned: true });
  expect(await countJobsByStatus(h.sql, batch.id)).toMatchObject({ succeeded: 3 });
});

it("a flush in flight holds off a takeover of its chunk's claim, but not the chunk's own claim extensions", async () => {
  const t = await h.tenant();
  const batch = await newBatch(t, 'chunk', [{ ms: 0 }]);
  await markBatchRunning(h.sql, batch.id);
  const [job] = await listJobs(h.sql, batch.id, { afterSeq: -1, limit: 1 });
  const first = { batchId: batch.id, chunk: 'wf/run/2', owner: crypto.randomUUID() };
  await openClaim(h.sql, first, 0);
  // A flush that is still writing: recordOutcomes in a transaction left open, so its lock on the claim row stays.
  const flush = await h.sql.reserve();
  try {
    await flush`begin`;
    const written = await recordOutcomes(flush, first, [{ id: job!.id, seq: job!.seq, status: 'succeeded', output: null, errorType: null, errorMessage: null }]);
    expect(written).toMatchObject({ succeeded: 1, owned: true });
    // The chunk's lanes can claim further while its flush runs.
    expect(await extendClaim(h.sql, first, 5)).toBe(true);
    // A second try's takeover waits for the flush to commit...
    const second = { ...first, owner: crypto.randomUUID() };
    const takeover = openClaim(h.sql, second, 0);
    const waitingOnLock = async () => {
      const rows = await h.sql`
        select 1 from pg_stat_activity
        where wait_event_type = 'Lock' and query like '%chunk_claims%' and datname = current_database()
      `;
      return rows.length > 0;
    };
    while (!(await waitingOnLock())) await new Promise((r) => setTimeout(r, 10));
    await flush`commit`;
    // ...and then sees everything the first try claimed, and fences it off.
    expect(await takeover).toEqual({ prior: 5, through: 5 });
    expect(await extendClaim(h.sql, first, 6)).toBe(false);
  } finally {
    flush.release();
  }
});

it("a stale run's failJob, finishBatch and cancelBatch do not undo a redrive", async () => {
  const t = await h.tenant();
  const batch = await insertSleepBatch(h.sql, t.id, { mode: 'activity', items: [{ ms: 0 }, { ms: 0 }] });
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
