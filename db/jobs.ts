import type { JobStatus } from '../lib/names.js';
import type { Db } from './client.js';

export interface JobRow {
  id: string;
  seq: number;
  status: JobStatus;
  attempts: number;
  input: unknown;
  output: unknown;
  errorType: string | null;
  errorMessage: string | null;
  startedAt: Date | null;
  completedAt: Date | null;
}

/** Unfinished jobs with positions in (afterSeq, beforeSeq), in order: only ids and positions leave the database. */
export async function listPendingJobIds(
  sql: Db,
  batchId: string,
  range: { afterSeq: number; beforeSeq: number },
  limit: number,
): Promise<{ id: string; seq: number }[]> {
  return sql<{ id: string; seq: number }[]>`
    select id, seq
    from jobs
    where batch_id = ${batchId}
      and seq > ${range.afterSeq}
      and seq < ${range.beforeSeq}
      and status in ('pending', 'running')
    order by seq
    limit ${limit}
  `;
}

/**
 * Ends a job as failed and counts it on its batch's row, in one statement. Only a job
 * that has not ended yet moves, so a repeated call changes nothing and counts nothing.
 * Returns the job's status after the call (the earlier outcome when it had ended
 * already) and the batch's failed counter after it, for the failure tolerance: the call
 * that pushes the counter past the limit is the one that sees it. (Successes count on
 * stripes of the batch: db/job-attempts.ts.)
 *
 * `epoch`: the batch's redrive count the caller's run started with (see
 * BatchSnapshot.epoch); a run of an earlier epoch ends nothing.
 */
export async function failJob(sql: Db, jobId: string, errorType: string, errorMessage: string, epoch?: number): Promise<EndedJob | undefined> {
  const [row] = await sql<EndedJob[]>`
    with ended as (
      update jobs
      set status = 'failed',
        output = null,
        error_type = ${errorType},
        error_message = ${errorMessage},
        completed_at = now(),
        updated_at = now()
      where id = ${jobId}
        and status in ('pending', 'running')
        ${epoch === undefined ? sql`` : sql`and exists (select 1 from batches e where e.id = jobs.batch_id and e.redrives = ${epoch})`}
      returning batch_id
    ),
    counted as (
      update batches b
      set failed_jobs = b.failed_jobs + 1
      from ended
      where b.id = ended.batch_id
      returning b.id, b.failed_jobs
    )
    select 'failed'::job_status as status, failed_jobs as batch_failed, true as ended
    from counted
    union all
    select j.status, b.failed_jobs as batch_failed, false as ended
    from jobs j
    join batches b on b.id = j.batch_id
    where j.id = ${jobId}
      and not exists (select 1 from counted)
  `;
  return row;
}

export interface EndedJob {
  status: JobStatus;
  batchFailed: number;
  /** This call ended the job (and counted it); false when it had ended already or was fenced off. */
  ended: boolean;
}

export async function listJobs(
  sql: Db,
  batchId: string,
  opts: { afterSeq: number; limit: number; status?: JobStatus | undefined },
): Promise<JobRow[]> {
  return sql<JobRow[]>`
    select id, seq, status, attempts, input, output, error_type, error_message, started_at, completed_at
    from jobs
    where batch_id = ${batchId}
      and seq > ${opts.afterSeq}
      ${opts.status ? sql`and status = ${opts.status}` : sql``}
    order by seq
    limit ${opts.limit}
  `;
}

/** Job counts by status, straight from the rows (for tests and audits of the counters). */
export async function countJobsByStatus(sql: Db, batchId: string): Promise<Record<JobStatus, number>> {
  const rows = await sql<{ status: JobStatus; count: number }[]>`
    select status, count(*)::int as count
    from jobs
    where batch_id = ${batchId}
    group by status
  `;
  const counts: Record<JobStatus, number> = { pending: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 };
  for (const r of rows) counts[r.status] = r.count;
  return counts;
}
