/**
 * A batch's counters as a statement reads them: the row's, plus the stripes that
 * per-activity successes count on (db/migrations/20261203000000_batch_success_stripes.sql),
 * and what follows from them (the outcome, whether every job has ended); and the fold
 * that moves the stripes into the row when the batch ends.
 */
import type { Db } from './client.js';

/**
 * A batch's succeeded count, in a statement over its `batches` row: the row's counter
 * plus the stripes per-activity jobs count their successes on (see
 * db/migrations/20261203000000_batch_success_stripes.sql and foldSuccessStripes).
 */
export const succeededJobs = (sql: Db) => sql`
  (batches.succeeded_jobs + coalesce((select sum(s.succeeded) from batch_success_stripes s where s.batch_id = batches.id), 0))::int
`;

/** Stripes of a batch that per-activity successes spread over (by position). */
export const SUCCESS_STRIPES = 32;

/** A finished batch's outcome from its counters: all succeeded → completed, none → failed, otherwise partial. */
export const outcomeFromCounters = (sql: Db) => sql`
  case
    when ${succeededJobs(sql)} = total_jobs then 'completed'::batch_status
    when ${succeededJobs(sql)} = 0 then 'failed'::batch_status
    else 'partial'::batch_status
  end
`;

/** Every job has ended, by the counters (in a statement over the batch's row). */
export const allJobsEnded = (sql: Db) => sql`${succeededJobs(sql)} + failed_jobs + cancelled_jobs = total_jobs`;

/**
 * Moves a batch's success stripes into its row's counter, in one statement: the sum of
 * the two is the same before and after, whatever runs beside it (a job's end that
 * finds its stripe deleted inserts it anew). Run when a batch ends, so that its row
 * holds the count from then on. Two folds of a batch at once take turns on an advisory
 * lock of the batch's, taken before any stripe: each deleting the stripes as it found
 * them, they could lock them in different orders (one sees a stripe inserted anew that
 * the other does not) and deadlock, as two did in a CI run of the test. (Locking the
 * batch's row first instead deadlocked ten times in a stress trial, the row's waiters
 * queueing behind its update.)
 */
export async function foldSuccessStripes(sql: Db, batchId: string): Promise<void> {
  await sql`
    with turn as materialized (
      select pg_advisory_xact_lock(hashtextextended(${batchId}, 0))
    ),
    folded as (
      delete from batch_success_stripes
      where batch_id = ${batchId}
        and exists (select 1 from turn)
      returning succeeded
    ),
    total as (
      select coalesce(sum(succeeded), 0)::int as n
      from folded
    )
    update batches
    set succeeded_jobs = succeeded_jobs + total.n
    from total
    where batches.id = ${batchId}
      and total.n > 0
  `;
}
