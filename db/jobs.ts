import type { JobStatus } from '../lib/names.js';
import { SUCCESS_STRIPES } from './batch-counters.js';
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

export type StartedAttempt =
  | { started: true; attempts: number; input: unknown; batchId: string; tenantId: string; jobType: string }
  | { started: false; status: JobStatus };

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
 * Records the start of an attempt (status running, attempts + 1) unless the job has
 * already ended, in which case its final status comes back and nothing runs.
 */
export async function startAttempt(sql: Db, jobId: string): Promise<StartedAttempt | undefined> {
  const [row] = await sql<
    { attempts: number; input: unknown; batchId: string; tenantId: string; jobType: string; status: JobStatus | null }[]
  >`
    with started as (
      update jobs
      set status = 'running',
        attempts = attempts + 1,
        started_at = coalesce(started_at, now()),
        updated_at = now()
      where id = ${jobId}
        and status in ('pending', 'running')
      returning batch_id, attempts, input
    )
    select s.attempts, s.input, b.id as batch_id, b.tenant_id, b.job_type, null::job_status as status
    from started s
    join batches b on b.id = s.batch_id
    union all
    select j.attempts, null, j.batch_id, b.tenant_id, b.job_type, j.status
    from jobs j
    join batches b on b.id = j.batch_id
    where j.id = ${jobId}
      and not exists (select 1 from started)
  `;
  if (!row) return undefined;
  if (row.status !== null) return { started: false, status: row.status };
  return {
    started: true,
    attempts: row.attempts,
    input: row.input,
    batchId: row.batchId,
    tenantId: row.tenantId,
    jobType: row.jobType,
  };
}

/**
 * Keeps the latest attempt's error on a job that is still being retried. `attempt`:
 * only that attempt may write (an older one still running after a timeout may not).
 */
export async function recordAttemptError(sql: Db, jobId: string, attempt: number, errorType: string, errorMessage: string): Promise<void> {
  await sql`
    update jobs
    set error_type = ${errorType},
      error_message = ${errorMessage},
      updated_at = now()
    where id = ${jobId}
      and status = 'running'
      and attempts = ${attempt}
  `;
}

/**
 * Ends a job and counts it on its batch in one statement. Only a job that has not
 * ended yet moves, so a repeated call changes nothing and counts nothing. Returns
 * the job's status after the call (the earlier outcome when it had ended already)
 * and the batch's failed counter after it, for the failure tolerance: the call that
 * pushes the counter past the limit is the one that sees it.
 *
 * A success is counted on one of the batch's stripes (by the job's position), not on
 * the batch's row: that row's lock, held to each commit, queued every job's end behind
 * the one before (see db/migrations/20261203000000_batch_success_stripes.sql). A
 * failure is counted on the row, for the tolerance.
 */
async function endJob(
  sql: Db,
  jobId: string,
  outcome: { status: 'succeeded'; output: unknown } | { status: 'failed'; errorType: string; errorMessage: string },
  fence: { epoch?: number; attempt?: number },
): Promise<EndedJob | undefined> {
  const { epoch, attempt } = fence;
  const succeeded = outcome.status === 'succeeded';
  const counted = succeeded
    ? sql`
      counted as (
        insert into batch_success_stripes as s (batch_id, stripe, succeeded)
        select ended.batch_id, ended.seq % ${SUCCESS_STRIPES}, 1
        from ended
        on conflict (batch_id, stripe) do update
        set succeeded = s.succeeded + 1
        returning s.batch_id as id, (select b.failed_jobs from batches b where b.id = s.batch_id) as failed_jobs
      )`
    : sql`
      counted as (
        update batches b
        set failed_jobs = b.failed_jobs + 1
        from ended
        where b.id = ended.batch_id
        returning b.id, b.failed_jobs
      )`;
  const [row] = await sql<EndedJob[]>`
    with ended as (
      update jobs
      set status = ${outcome.status}::job_status,
        output = ${succeeded ? sql.json((outcome.output ?? null) as never) : null},
        error_type = ${succeeded ? sql`error_type` : outcome.errorType},
        error_message = ${succeeded ? sql`error_message` : outcome.errorMessage},
        completed_at = now(),
        updated_at = now()
      where id = ${jobId}
        and status in ('pending', 'running')
        ${epoch === undefined ? sql`` : sql`and exists (select 1 from batches e where e.id = jobs.batch_id and e.redrives = ${epoch})`}
        ${attempt === undefined ? sql`` : sql`and attempts = ${attempt}`}
      returning batch_id, seq
    ),
    ${counted}
    select ${outcome.status}::job_status as status, failed_jobs as batch_failed, true as ended
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

/**
 * Ends a job as succeeded by the attempt that ran it. Only the job's latest attempt
 * may: when Temporal timed an attempt out (a missed heartbeat) and started another
 * while the first still ran, the first one's success is refused, and the status that
 * comes back is `running`; the latest attempt ends the job with its own effect.
 * Undefined when the job is gone.
 */
export const succeedJob = (sql: Db, jobId: string, attempt: number, output: unknown) =>
  endJob(sql, jobId, { status: 'succeeded', output }, { attempt });

/** `epoch`: the batch's redrive count the caller's run started with (see BatchSnapshot.epoch). */
export const failJob = (sql: Db, jobId: string, errorType: string, errorMessage: string, epoch?: number) =>
  endJob(sql, jobId, { status: 'failed', errorType, errorMessage }, { epoch });

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
