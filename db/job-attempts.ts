/**
 * The statements of one job's attempt (per-activity and local modes): it starts, it
 * fails (the error kept for the next attempt), it succeeds. Each takes many jobs at
 * once, one row each: the worker writes the attempts that start or end together in one
 * statement (lib/group-commit.ts, activities/job.ts).
 */
import type { JobStatus } from '../lib/names.js';
import { SUCCESS_STRIPES } from './batch-counters.js';
import type { Db } from './client.js';

export type StartedAttempt =
  | { started: true; attempts: number; input: unknown; batchId: string; tenantId: string; jobType: string }
  | { started: false; status: JobStatus };

/**
 * Records the start of an attempt of each job (status running, attempts + 1), except
 * those that have already ended: their final status comes back, and nothing runs.
 * Undefined for a job that is gone. Each id once.
 */
export async function startAttempts(sql: Db, ids: readonly string[]): Promise<(StartedAttempt | undefined)[]> {
  const rows = await sql<
    { id: string; attempts: number; input: unknown; batchId: string; tenantId: string; jobType: string; status: JobStatus | null }[]
  >`
    with started as (
      update jobs
      set status = 'running',
        attempts = attempts + 1,
        started_at = coalesce(started_at, now()),
        updated_at = now()
      where id = any(${ids as string[]}::uuid[])
        and status in ('pending', 'running')
      returning id, batch_id, attempts, input
    )
    select s.id, s.attempts, s.input, b.id as batch_id, b.tenant_id, b.job_type, null::job_status as status
    from started s
    join batches b on b.id = s.batch_id
    union all
    select j.id, j.attempts, null, j.batch_id, b.tenant_id, b.job_type, j.status
    from jobs j
    join batches b on b.id = j.batch_id
    where j.id = any(${ids as string[]}::uuid[])
      and j.id not in (select id from started)
  `;
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.map((id): StartedAttempt | undefined => {
    const row = byId.get(id);
    if (!row) return undefined;
    if (row.status !== null) return { started: false, status: row.status };
    return { started: true, attempts: row.attempts, input: row.input, batchId: row.batchId, tenantId: row.tenantId, jobType: row.jobType };
  });
}

export interface AttemptError {
  jobId: string;
  /** Only this attempt may write: an older one still running after a timeout may not. */
  attempt: number;
  errorType: string;
  errorMessage: string;
}

/** Keeps each job's latest attempt's error while the job is still being retried. Each job once. */
export async function recordAttemptErrors(sql: Db, errors: readonly AttemptError[]): Promise<void> {
  const given = errors.map((e) => ({ id: e.jobId, attempt: e.attempt, error_type: e.errorType, error_message: e.errorMessage }));
  await sql`
    update jobs j
    set error_type = g.error_type,
      error_message = g.error_message,
      updated_at = now()
    from jsonb_to_recordset(${JSON.stringify(given)}::text::jsonb) as g(id uuid, attempt int, error_type text, error_message text)
    where j.id = any(${errors.map((e) => e.jobId)}::uuid[])
      and j.id = g.id
      and j.status = 'running'
      and j.attempts = g.attempt
  `;
}

export interface AttemptSuccess {
  jobId: string;
  /** The attempt that ran the job: only the job's latest may end it. */
  attempt: number;
  output: unknown;
}

export interface SucceededJob {
  /**
   * The job's status after the call: `succeeded`; its earlier outcome when it had ended
   * already; `running` when a later attempt has started (Temporal timed this one out
   * while it ran, e.g. a missed heartbeat): the later attempt ends the job.
   */
  status: JobStatus;
  /** This call ended the job (and counted it). */
  ended: boolean;
}

/**
 * Ends each job as succeeded by the attempt that ran it, and counts them on their
 * batches, in one statement. Only a job that has not ended moves, so a repeated call
 * changes nothing and counts nothing. Undefined for a job that is gone. Each job once.
 *
 * The successes count on a stripe of their batch (see
 * db/migrations/20261203000000_batch_success_stripes.sql), one stripe per batch and
 * statement (by the lowest position it ended): a statement that locked several stripes
 * of a batch could deadlock with the batch's fold (foldSuccessStripes), which locks
 * them in an order of its own.
 */
export async function succeedJobs(sql: Db, successes: readonly AttemptSuccess[]): Promise<(SucceededJob | undefined)[]> {
  const given = successes.map((s) => ({ id: s.jobId, attempt: s.attempt, output: s.output ?? null }));
  const ids = successes.map((s) => s.jobId);
  const rows = await sql<{ id: string; status: JobStatus | null; ended: boolean }[]>`
    with given as materialized (
      select *
      from jsonb_to_recordset(${JSON.stringify(given)}::text::jsonb) as g(id uuid, attempt int, output jsonb)
    ),
    ended as (
      update jobs j
      set status = 'succeeded',
        output = g.output,
        completed_at = now(),
        updated_at = now()
      from given g
      where j.id = any(${ids}::uuid[])
        and j.id = g.id
        and j.status in ('pending', 'running')
        and j.attempts = g.attempt
      returning j.id, j.batch_id, j.seq
    ),
    counted as (
      insert into batch_success_stripes as s (batch_id, stripe, succeeded)
      select batch_id, min(seq) % ${SUCCESS_STRIPES}, count(*)::int
      from ended
      group by batch_id
      order by batch_id
      on conflict (batch_id, stripe) do update
      set succeeded = s.succeeded + excluded.succeeded
    )
    select g.id,
      case when e.id is not null then 'succeeded'::job_status else (select j.status from jobs j where j.id = g.id) end as status,
      e.id is not null as ended
    from given g
    left join ended e on e.id = g.id
  `;
  const byId = new Map(rows.map((r) => [r.id, r]));
  return successes.map((s) => {
    const row = byId.get(s.jobId);
    return row?.status ? { status: row.status, ended: row.ended } : undefined;
  });
}

/** One job's attempt starts (see startAttempts). */
export const startAttempt = async (sql: Db, jobId: string) => (await startAttempts(sql, [jobId]))[0];

/** One job's attempt failed and it will be retried (see recordAttemptErrors). */
export const recordAttemptError = (sql: Db, jobId: string, attempt: number, errorType: string, errorMessage: string) =>
  recordAttemptErrors(sql, [{ jobId, attempt, errorType, errorMessage }]);

/** One job ends as succeeded (see succeedJobs). */
export const succeedJob = async (sql: Db, jobId: string, attempt: number, output: unknown) =>
  (await succeedJobs(sql, [{ jobId, attempt, output }]))[0];
