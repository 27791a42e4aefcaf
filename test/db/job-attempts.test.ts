/**
 * An attempt's statements take many jobs at once (db/job-attempts.ts), and the worker
 * writes the attempts that start or end together in one statement
 * (lib/group-commit.ts): each job answers as it would alone, and the counters stay
 * exact, whatever runs beside them.
 */
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { foldSuccessStripes } from '../../db/batch-counters.js';
import { finishBatch, getBatchById, markBatchRunning } from '../../db/batches.js';
import { startAttempts, succeedJobs } from '../../db/job-attempts.js';
import { listJobs } from '../../db/jobs.js';
import { groupCommit } from '../../lib/group-commit.js';
import { createHarness, type Harness } from '../support/harness.js';
import { insertSleepBatch } from '../support/sleep-batch.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness({ worker: false });
});
afterAll(() => h?.close());

async function batchOf(jobs: number) {
  const t = await h.tenant();
  const batch = await insertSleepBatch(h.sql, t.id, { mode: 'local', concurrency: 10, items: Array.from({ length: jobs }, () => ({ ms: 0 })) });
  await markBatchRunning(h.sql, batch.id);
  return { batch, jobs: await listJobs(h.sql, batch.id, { afterSeq: -1, limit: jobs }) };
}

const GONE = '00000000-0000-4000-8000-000000000000';

it('one statement starts and ends many jobs, each answering as it would alone', async () => {
  const { batch, jobs } = await batchOf(6);
  const ids = jobs.map((j) => j.id);
  const started = await startAttempts(h.sql, [...ids.slice(0, 5), GONE]);
  expect(started.slice(0, 5).every((s) => s?.started && s.attempts === 1 && s.batchId === batch.id && s.jobType === 'sleep')).toBe(true);
  expect(started[5]).toBeUndefined();
  // Job 4 is started again: its first attempt may no longer end it.
  expect(await startAttempts(h.sql, [ids[4]!])).toMatchObject([{ started: true, attempts: 2 }]);

  const first = await succeedJobs(h.sql, [
    { jobId: ids[0]!, attempt: 1, output: { n: 0 } },
    { jobId: ids[1]!, attempt: 1, output: null },
    { jobId: ids[4]!, attempt: 1, output: { late: true } },
    { jobId: ids[5]!, attempt: 0, output: {} },
    { jobId: GONE, attempt: 1, output: {} },
  ]);
  expect(first).toEqual([
    { status: 'succeeded', ended: true },
    { status: 'succeeded', ended: true },
    { status: 'running', ended: false },
    // Never started: attempt 0 is its latest, and it may end.
    { status: 'succeeded', ended: true },
    undefined,
  ]);
  // Again: nothing more ends, nothing is counted twice.
  const again = await succeedJobs(h.sql, [
    { jobId: ids[0]!, attempt: 1, output: { n: 1 } },
    { jobId: ids[2]!, attempt: 1, output: { n: 2 } },
  ]);
  expect(again).toEqual([
    { status: 'succeeded', ended: false },
    { status: 'succeeded', ended: true },
  ]);
  expect(await startAttempts(h.sql, [ids[0]!])).toEqual([{ started: false, status: 'succeeded' }]);
  const rows = await listJobs(h.sql, batch.id, { afterSeq: -1, limit: 10 });
  expect(rows.map((r) => [r.status, r.output])).toEqual([
    ['succeeded', { n: 0 }],
    ['succeeded', null],
    ['succeeded', { n: 2 }],
    ['running', null],
    ['running', null],
    ['succeeded', {}],
  ]);
  expect((await getBatchById(h.sql, batch.id))!.succeededJobs).toBe(4);
});

it('statements of many jobs at once, with folds among them, count each success once', async () => {
  const { batch, jobs } = await batchOf(400);
  await startAttempts(h.sql, jobs.map((j) => j.id));
  // Forty statements of ten jobs each, their positions interleaved (each touches many
  // stripes' worth of positions), at once with twenty folds of the batch's stripes.
  const groups = Array.from({ length: 40 }, (_, g) => jobs.filter((_, i) => i % 40 === g));
  await Promise.all([
    ...groups.map((g) => succeedJobs(h.sql, g.map((j) => ({ jobId: j.id, attempt: 1, output: null })))),
    ...Array.from({ length: 20 }, () => foldSuccessStripes(h.sql, batch.id)),
  ]);
  expect((await getBatchById(h.sql, batch.id))!.succeededJobs).toBe(400);
  expect(await finishBatch(h.sql, batch.id, 0, { onlyIfAllEnded: true })).toMatchObject({ status: 'completed', succeededJobs: 400 });
});

const timeout = () => ApplicationFailure.create({ type: 'StatementTimeout', message: 'late' });

it('calls made while a statement runs go together in the next one', async () => {
  const { jobs } = await batchOf(61);
  const statements: number[] = [];
  const start = groupCommit(
    async (ids: readonly string[]) => {
      statements.push(ids.length);
      // Long enough that every call below is made while the first statement runs.
      await h.sql`select pg_sleep(0.3)`;
      return startAttempts(h.sql, ids);
    },
    { maxInFlight: 1, maxBatch: 500, timeoutMs: 10_000, timeout, rowOf: (id) => id },
  );
  const first = start(jobs[0]!.id);
  await new Promise((resolve) => setTimeout(resolve, 50));
  const rest = await Promise.all(jobs.slice(1).map((j) => start(j.id)));
  expect(await first).toMatchObject({ started: true, attempts: 1 });
  expect(rest.every((s) => s?.started && s.attempts === 1)).toBe(true);
  expect(statements).toEqual([1, 60]);
});

it('a job started twice in one group is started twice, one after the other', async () => {
  const { jobs } = await batchOf(3);
  const statements: string[][] = [];
  const start = groupCommit(
    (ids: readonly string[]) => {
      statements.push([...ids]);
      return startAttempts(h.sql, ids);
    },
    { maxInFlight: 1, maxBatch: 500, timeoutMs: 10_000, timeout, rowOf: (id) => id },
  );
  const [a, b, c, a2] = await Promise.all([start(jobs[0]!.id), start(jobs[1]!.id), start(jobs[2]!.id), start(jobs[0]!.id)]);
  expect([a, b, c, a2].map((s) => s?.started && s.attempts)).toEqual([1, 1, 1, 2]);
  expect(statements).toEqual([[jobs[0]!.id, jobs[1]!.id, jobs[2]!.id], [jobs[0]!.id]]);
});

it('a statement that does not answer fails its calls, and the next statement goes ahead', async () => {
  const { jobs } = await batchOf(2);
  let calls = 0;
  const start = groupCommit(
    async (ids: readonly string[]) => {
      // The first statement hangs (a connection the server dropped, say).
      if (calls++ === 0) await h.sql`select pg_sleep(2)`;
      return startAttempts(h.sql, ids);
    },
    { maxInFlight: 1, maxBatch: 500, timeoutMs: 300, timeout, rowOf: (id) => id },
  );
  const hung = start(jobs[0]!.id);
  await expect(hung).rejects.toMatchObject({ type: 'StatementTimeout' });
  expect(await start(jobs[1]!.id)).toMatchObject({ started: true, attempts: 1 });
});
