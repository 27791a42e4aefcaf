/**
 * The jobs table's storage rules (db/migrations/20261123000000_jobs_bulk_writes.sql):
 * a batch's jobs go with it however it is deleted, although no foreign key checks each
 * inserted job, and an attempt's write is a heap-only update.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { openClaim } from '../../db/chunk-claims.js';
import { loadBySeqs, recordOutcomes, type AttemptOutcome } from '../../db/chunks.js';
import type { Db } from '../../db/client.js';
import { listJobs } from '../../db/jobs.js';
import { createHarness, type Harness } from '../support/harness.js';
import { insertSleepBatch } from '../support/sleep-batch.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness({ worker: false });
});
afterAll(() => h?.close());

const newBatch = (tenantId: string, jobs: number) =>
  insertSleepBatch(h.sql, tenantId, { mode: 'chunk', concurrency: 10, items: Array.from({ length: jobs }, () => ({ ms: 0 })) });

/** A new batch of `jobs` jobs, its rows, and a chunk's claim on all of them. */
async function claimedBatch(jobs: number, chunk: string) {
  const t = await h.tenant();
  const batch = await newBatch(t.id, jobs);
  const rows = await listJobs(h.sql, batch.id, { afterSeq: -1, limit: jobs });
  const claim = { batchId: batch.id, chunk: `job-rows-${batch.id}/${chunk}`, owner: randomUUID() };
  await openClaim(h.sql, claim, jobs);
  return { batch, jobs: rows, claim };
}

const jobsOf = async (batchIds: string[]) =>
  (await h.sql<{ n: number }[]>`select count(*)::int as n from jobs where batch_id = any(${batchIds}::uuid[])`)[0]!.n;

it('deleting batches deletes exactly their jobs, in one statement or by a tenant cascade', async () => {
  const t = await h.tenant();
  const other = await h.tenant();
  const [a, b, kept] = [await newBatch(t.id, 3), await newBatch(t.id, 2), await newBatch(t.id, 4)];
  const neighbour = await newBatch(other.id, 5);
  expect(await jobsOf([a.id, b.id, kept.id, neighbour.id])).toBe(14);

  // Two batches in one statement (as retention deletes them).
  await h.sql`delete from batches where id in (${a.id}, ${b.id})`;
  expect(await jobsOf([a.id, b.id])).toBe(0);
  expect(await jobsOf([kept.id])).toBe(4);
  expect(await jobsOf([neighbour.id])).toBe(5);

  // A tenant's deletion cascades to its batches, and from them to their jobs.
  await h.sql`delete from tenants where id = ${t.id}`;
  expect(await jobsOf([kept.id])).toBe(0);
  expect(await jobsOf([neighbour.id])).toBe(5);
});

it("a chunk's flush updates job rows in place: heap-only, no new index entries, but for a job that ends failed", async () => {
  const { batch, jobs, claim } = await claimedBatch(50, '0');
  const outcomes = jobs.map((j, i): AttemptOutcome => {
    if (i % 5 === 0) return { id: j.id, seq: j.seq, status: 'failed', output: null, errorType: 'Boom', errorMessage: 'boom' };
    // A failed attempt that will be retried keeps its error type on the row too.
    if (i % 5 === 1) return { id: j.id, seq: j.seq, status: 'running', output: null, errorType: 'TransientJobError', errorMessage: 'again' };
    return { id: j.id, seq: j.seq, status: 'succeeded', output: { ok: true }, errorType: null, errorMessage: null };
  });
  // In one transaction, to read that transaction's own update counts.
  const counts = await h.sql.begin(async (tx) => {
    expect(await recordOutcomes(tx, claim, outcomes)).toMatchObject({ succeeded: 30, failed: 10, retrying: 10, owned: true });
    const [row] = await tx<{ updated: number; hot: number }[]>`
      select pg_stat_get_xact_tuples_updated('jobs'::regclass)::int as updated,
        pg_stat_get_xact_tuples_hot_updated('jobs'::regclass)::int as hot
    `;
    return row!;
  });
  // Successes and retried failures are heap-only (with the error type itself indexed, a
  // retried failure was not: 30 here); a job that ends failed enters the failed-jobs index.
  expect(counts).toEqual({ updated: 50, hot: 40 });
  // That index holds exactly the failed jobs, by error type.
  const byType = await h.sql<{ failedErrorType: string; n: number }[]>`
    select failed_error_type, count(*)::int as n from jobs where batch_id = ${batch.id} and failed_error_type is not null group by 1
  `;
  expect(byType).toEqual([{ failedErrorType: 'Boom', n: 10 }]);
});

it("a flush reads its own rows only, even while the planner's statistics do not know the batch yet", async () => {
  const t = await h.tenant();
  // Statistics taken before the batch exists: they put a row or two in any other batch.
  await newBatch(t.id, 3);
  await h.sql`analyze jobs`;
  const batch = await newBatch(t.id, 5_000);
  const jobs = await listJobs(h.sql, batch.id, { afterSeq: 2_000, limit: 200 });
  const claim = { batchId: batch.id, chunk: `job-rows-${batch.id}/1`, owner: randomUUID() };
  await openClaim(h.sql, claim, 5_000);
  const outcomes = jobs.map((j): AttemptOutcome => ({ id: j.id, seq: j.seq, status: 'succeeded', output: null, errorType: null, errorMessage: null }));
  const fetched = await h.sql.begin(async (tx) => {
    expect(await recordOutcomes(tx, claim, outcomes)).toMatchObject({ succeeded: 200 });
    // Index scans count their heap fetches on the index, bitmap scans on the table.
    const [row] = await tx<{ n: number }[]>`
      select (pg_stat_get_xact_tuples_fetched('jobs'::regclass)
        + (select sum(pg_stat_get_xact_tuples_fetched(indexrelid)) from pg_index where indrelid = 'jobs'::regclass))::int as n
    `;
    return row!.n;
  });
  // Rows of jobs fetched by index and bitmap scans (the update's own re-reads included):
  // on the order of the flush's 200, not the batch's 5,000 (5,324 with the join this replaced).
  expect(fetched).toBeLessThanOrEqual(1_000);
});

it("a retry round's read and flush find their rows by key, even while the planner's statistics do not know the batch yet", async () => {
  const t = await h.tenant();
  await newBatch(t.id, 3);
  await h.sql`analyze jobs`;
  const batch = await newBatch(t.id, 5_000);
  // Every tenth position of 2,000–3,999: a retry round's spread, 200 jobs over a span of 2,000.
  const seqs = Array.from({ length: 200 }, (_, i) => 2_000 + 10 * i);
  const claim = { batchId: batch.id, chunk: `job-rows-${batch.id}/sparse`, owner: randomUUID() };
  await openClaim(h.sql, claim, 5_000);
  /** Rows of jobs fetched by index and bitmap scans in the transaction so far. */
  const fetchedIn = async (tx: Db) =>
    (
      await tx<{ n: number }[]>`
        select (pg_stat_get_xact_tuples_fetched('jobs'::regclass)
          + (select sum(pg_stat_get_xact_tuples_fetched(indexrelid)) from pg_index where indrelid = 'jobs'::regclass))::int as n
      `
    )[0]!.n;
  const { read, written } = await h.sql.begin(async (tx) => {
    const loaded = await loadBySeqs(tx, batch.id, seqs.toReversed());
    expect(loaded.map((j) => j.seq)).toEqual(seqs);
    const read = await fetchedIn(tx);
    const outcomes = loaded.map((j): AttemptOutcome => ({ id: j.id, seq: j.seq, status: 'succeeded', output: null, errorType: null, errorMessage: null }));
    expect(await recordOutcomes(tx, claim, outcomes)).toMatchObject({ succeeded: 200 });
    return { read, written: (await fetchedIn(tx)) - read };
  });
  // On the order of the round's 200 rows each: not the span's 2,000 (read whole, as
  // before), nor the batch's 5,000 (`seq = any(…)` planned on these statistics).
  expect(read).toBeLessThanOrEqual(1_000);
  expect(written).toBeLessThanOrEqual(1_000);
  const rows = await listJobs(h.sql, batch.id, { afterSeq: 1_999, limit: 2_000 });
  expect(rows.filter((j) => j.status === 'succeeded').map((j) => j.seq)).toEqual(seqs);
});

it('a flush writes each outcome to its own row, whether it fills its span (by offset) or not (by position)', async () => {
  const { batch, jobs, claim } = await claimedBatch(100, '2');
  const outcomeOf = (seq: number): AttemptOutcome => {
    const id = jobs[seq]!.id;
    if (seq % 3 === 0) return { id, seq, status: 'running', output: null, errorType: 'TransientJobError', errorMessage: `attempt of ${seq} failed, "quoted"` };
    if (seq % 3 === 1) return { id, seq, status: 'failed', output: null, errorType: 'Boom', errorMessage: `boom ${seq}` };
    return { id, seq, status: 'succeeded', output: { seq, nested: { list: [seq, 'x'] } }, errorType: null, errorMessage: null };
  };
  // Dense: positions 0–49 but 7 and 13 (48 of a 50-position span), out of order.
  const dense = Array.from({ length: 50 }, (_, seq) => seq).filter((seq) => seq !== 7 && seq !== 13).reverse();
  // Sparse: every tenth position from 50, and the last (6 of a 50-position span).
  const sparse = [50, 60, 70, 80, 90, 99];
  const tally = (seqs: number[]) => ({
    succeeded: seqs.filter((s) => s % 3 === 2).length,
    failed: seqs.filter((s) => s % 3 === 1).length,
    retrying: seqs.filter((s) => s % 3 === 0).length,
  });
  expect(await recordOutcomes(h.sql, claim, dense.map(outcomeOf))).toMatchObject({ ...tally(dense), owned: true });
  expect(await recordOutcomes(h.sql, claim, sparse.map(outcomeOf))).toMatchObject({ ...tally(sparse), owned: true });
  const rows = await listJobs(h.sql, batch.id, { afterSeq: -1, limit: 100 });
  for (const row of rows) {
    const written = dense.includes(row.seq) || sparse.includes(row.seq);
    if (!written) {
      expect(row).toMatchObject({ status: 'pending', attempts: 0, output: null, errorType: null, errorMessage: null });
      continue;
    }
    const o = outcomeOf(row.seq);
    expect(row).toMatchObject({ status: o.status, attempts: 1, output: o.output, errorType: o.errorType, errorMessage: o.errorMessage });
  }
  const [counters] = await h.sql<{ succeeded: number; failed: number }[]>`select succeeded_jobs as succeeded, failed_jobs as failed from batches where id = ${batch.id}`;
  expect(counters).toEqual({ succeeded: tally([...dense, ...sparse]).succeeded, failed: tally([...dense, ...sparse]).failed });
});

it("a sparse flush writes only its own batch's rows, whatever ids it is given", async () => {
  const { batch, jobs, claim } = await claimedBatch(100, '3');
  const other = await claimedBatch(100, '3');
  const succeeded = (j: { id: string; seq: number }): AttemptOutcome => ({ id: j.id, seq: j.seq, status: 'succeeded', output: null, errorType: null, errorMessage: null });
  // Sparse (every tenth position), with the other batch's job at position 20 in it.
  const outcomes = [0, 10, 30, 40].map((seq) => succeeded(jobs[seq]!)).concat(succeeded(other.jobs[20]!));
  expect(await recordOutcomes(h.sql, claim, outcomes)).toMatchObject({ succeeded: 4, owned: true });
  const ended = async (batchId: string) =>
    (await h.sql<{ seq: number }[]>`select seq from jobs where batch_id = ${batchId} and status = 'succeeded' order by seq`).map((r) => r.seq);
  expect(await ended(batch.id)).toEqual([0, 10, 30, 40]);
  expect(await ended(other.batch.id)).toEqual([]);
});
