/**
 * Bulk reads and writes for chunked execution: many jobs per activity, one statement
 * per flush of outcomes.
 */
import type { JobStatus } from '../lib/names.js';
import type { Db } from './client.js';

export interface ChunkJob {
  id: string;
  seq: number;
  status: JobStatus;
  attempts: number;
  /** Attempts made before the latest redrive: the retry budget counts from here. */
  retryBase: number;
  input: unknown;
}

/** Unfinished jobs with positions in [fromSeq, toSeq), in order, with their inputs. */
export async function loadRange(sql: Db, batchId: string, fromSeq: number, toSeq: number): Promise<ChunkJob[]> {
  return sql<ChunkJob[]>`
    select id, seq, status, attempts, retry_base, input
    from jobs
    where batch_id = ${batchId}
      and seq >= ${fromSeq}
      and seq < ${toSeq}
      and status in ('pending', 'running')
    order by seq
  `;
}

/** The given jobs of the batch that have not ended, in order. */
export async function loadByIds(sql: Db, batchId: string, ids: readonly string[]): Promise<ChunkJob[]> {
  return sql<ChunkJob[]>`
    select id, seq, status, attempts, retry_base, input
    from jobs
    where id = any(${ids as string[]}::uuid[])
      and batch_id = ${batchId}
      and status in ('pending', 'running')
    order by seq
  `;
}

/**
 * One attempt's outcome: `succeeded` and `failed` end the job; `running` records a
 * failed attempt that will be retried.
 */
export interface AttemptOutcome {
  id: string;
  status: 'succeeded' | 'failed' | 'running';
  output: unknown;
  errorType: string | null;
  errorMessage: string | null;
}

/**
 * Writes a flush of outcomes and counts the ended jobs on the batch, in one
 * statement. A job that has ended already is left alone and not counted again, so a
 * repeated flush (a retried or duplicated activity) changes nothing.
 */
export async function recordOutcomes(
  sql: Db,
  batchId: string,
  outcomes: readonly AttemptOutcome[],
): Promise<RecordedOutcomes> {
  if (outcomes.length === 0) return { succeeded: 0, failed: 0, retrying: 0, batchFailed: 0 };
  const [row] = await sql<RecordedOutcomes[]>`
    with o as (
      select *
      from unnest(
        ${outcomes.map((o) => o.id)}::uuid[],
        ${outcomes.map((o) => o.status)}::text[],
        ${outcomes.map((o) => (o.status === 'succeeded' ? (o.output ?? null) : null)) as never}::jsonb[],
        ${outcomes.map((o) => o.errorType)}::text[],
        ${outcomes.map((o) => o.errorMessage)}::text[]
      ) as o(id, status, output, error_type, error_message)
    ),
    updated as (
      update jobs j
      set status = o.status::job_status,
        attempts = j.attempts + 1,
        output = o.output,
        error_type = coalesce(o.error_type, j.error_type),
        error_message = coalesce(o.error_message, j.error_message),
        started_at = coalesce(j.started_at, now()),
        completed_at = case when o.status = 'running' then null else now() end,
        updated_at = now()
      from o
      where j.id = o.id
        and j.batch_id = ${batchId}
        and j.status in ('pending', 'running')
      returning j.status
    ),
    tally as (
      select
        count(*) filter (where status = 'succeeded')::int as succeeded,
        count(*) filter (where status = 'failed')::int as failed,
        count(*) filter (where status = 'running')::int as retrying
      from updated
    ),
    counted as (
      update batches b
      set succeeded_jobs = b.succeeded_jobs + tally.succeeded,
        failed_jobs = b.failed_jobs + tally.failed
      from tally
      where b.id = ${batchId}
        and (tally.succeeded > 0 or tally.failed > 0)
      returning b.failed_jobs
    )
    select succeeded, failed, retrying,
      coalesce((select failed_jobs from counted), (select failed_jobs from batches where id = ${batchId}), 0) as batch_failed
    from tally
  `;
  return row ?? { succeeded: 0, failed: 0, retrying: 0, batchFailed: 0 };
}

/** What a flush did, and the batch's failed counter after it (for the failure tolerance). */
export interface RecordedOutcomes {
  succeeded: number;
  failed: number;
  retrying: number;
  batchFailed: number;
}
