import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type postgres from 'postgres';
import { v7 as uuidv7 } from 'uuid';
import type { ExecutionMode } from '../job-types/job-type.js';
import type { BatchStatus } from '../lib/names.js';
import { allJobsEnded, foldSuccessStripes, outcomeFromCounters, succeededJobs } from './batch-counters.js';
import type { Db } from './client.js';

export interface NewBatch {
  tenantId: string;
  createdBy: string | null;
  jobType: string;
  mode: ExecutionMode;
  concurrency: number;
  maxRetries: number;
  retryInitialIntervalMs: number;
  retryBackoffCoefficient: number;
  retryMaximumIntervalMs: number;
  /** At most one of the two is set; neither means any number of failures is tolerated. */
  toleratedFailures?: number | null;
  toleratedFailuresPercent?: number | null;
  workflowIdOf: (batchId: string) => string;
}

export interface BatchRow {
  id: string;
  tenantId: string;
  jobType: string;
  mode: ExecutionMode;
  status: BatchStatus;
  concurrency: number;
  maxRetries: number;
  retryInitialIntervalMs: number;
  retryBackoffCoefficient: number;
  retryMaximumIntervalMs: number;
  totalJobs: number;
  succeededJobs: number;
  failedJobs: number;
  cancelledJobs: number;
  toleratedFailures: number | null;
  toleratedFailuresPercent: number | null;
  pausedAt: Date | null;
  redrives: number;
  workflowId: string;
  createdAt: Date;
  startedAt: Date | null;
  completedAt: Date | null;
  durationMs: number | null;
}

/**
 * Inserts a batch and streams its jobs in with COPY, in the caller's transaction, with
 * constant memory: `inputs` are the items (an array), or a stream of pages of items
 * (NDJSON ingest; a page per await, not an item, which keeps a million-item upload's
 * promise traffic small). The batch's total and mode are settled once every input is
 * in. An error thrown by the stream aborts the COPY and so the whole transaction.
 *
 * The one place jobs are inserted. No foreign key checks each job row (it cost a third
 * of COPY's time; db/migrations/20261123000000_jobs_bulk_writes.sql): a job's batch
 * exists because it is inserted here, first, in the same transaction.
 */
export async function insertBatch(
  sql: postgres.TransactionSql,
  batch: NewBatch,
  inputs: Iterable<unknown> | AsyncIterable<readonly unknown[]>,
  settle: () => { mode: ExecutionMode } = () => ({ mode: batch.mode }),
): Promise<BatchRow> {
  const id = randomUUID();
  await sql`
    insert into batches (
      id, tenant_id, created_by, job_type, mode, concurrency, max_retries,
      retry_initial_interval_ms, retry_backoff_coefficient, retry_maximum_interval_ms,
      tolerated_failures, tolerated_failures_percent, total_jobs, workflow_id
    )
    values (
      ${id}, ${batch.tenantId}, ${batch.createdBy}, ${batch.jobType}, ${batch.mode}, ${batch.concurrency}, ${batch.maxRetries},
      ${batch.retryInitialIntervalMs}, ${batch.retryBackoffCoefficient}, ${batch.retryMaximumIntervalMs},
      ${batch.toleratedFailures ?? null}, ${batch.toleratedFailuresPercent ?? null}, 0, ${batch.workflowIdOf(id)}
    )
  `;
  let total = 0;
  // COPY text format: tab-separated; JSON.stringify leaves no tab or newline, only backslashes to escape.
  const line = (input: unknown) => `${uuidv7()}\t${id}\t${total++}\t${JSON.stringify(input).replaceAll('\\', '\\\\')}\n`;
  async function* rows() {
    let lines: string[] = [];
    const pages: AsyncIterable<Iterable<unknown>> | Iterable<Iterable<unknown>> = Symbol.asyncIterator in inputs ? inputs : [inputs];
    for await (const page of pages) {
      for (const input of page) {
        lines.push(line(input));
        if (lines.length === 1_000) {
          yield lines.join('');
          lines = [];
        }
      }
    }
    if (lines.length > 0) yield lines.join('');
  }
  // Time-ordered ids (UUIDv7): each batch's keys land at the right edge of the primary
  // key index instead of on random pages, which keeps bulk inserts and updates cheap.
  const copy = await sql`copy jobs (id, batch_id, seq, input) from stdin`.writable();
  await pipeline(Readable.from(rows()), copy);
  const { mode } = settle();
  await sql`
    update batches
    set total_jobs = ${total},
      mode = ${mode}
    where id = ${id}
  `;
  return (await getBatch(sql, batch.tenantId, id))!;
}

export const batchColumns = (sql: Db) => sql`
  id, tenant_id, job_type, mode, status, concurrency, max_retries,
  retry_initial_interval_ms, retry_backoff_coefficient, retry_maximum_interval_ms,
  total_jobs, ${succeededJobs(sql)} as succeeded_jobs, failed_jobs, cancelled_jobs, workflow_id,
  tolerated_failures, tolerated_failures_percent::float8 as tolerated_failures_percent, paused_at, redrives,
  created_at, started_at, completed_at,
  (extract(epoch from (completed_at - started_at)) * 1000)::bigint::float8 as duration_ms
`;

/** A tenant's batch; another tenant's id finds nothing. */
export async function getBatch(sql: Db, tenantId: string, batchId: string): Promise<BatchRow | undefined> {
  const [row] = await sql<BatchRow[]>`
    select ${batchColumns(sql)}
    from batches
    where id = ${batchId}
      and tenant_id = ${tenantId}
  `;
  return row;
}

/** For activities, which act on ids handed to them by their own workflow. */
export async function getBatchById(sql: Db, batchId: string): Promise<BatchRow | undefined> {
  const [row] = await sql<BatchRow[]>`
    select ${batchColumns(sql)}
    from batches
    where id = ${batchId}
  `;
  return row;
}

/** pending → running, once; returns the row either way (one statement on a batch's first start). */
export async function markBatchRunning(sql: Db, batchId: string): Promise<BatchRow | undefined> {
  const [row] = await sql<BatchRow[]>`
    update batches
    set status = 'running',
      started_at = coalesce(started_at, now())
    where id = ${batchId}
      and status = 'pending'
    returning ${batchColumns(sql)}
  `;
  return row ?? getBatchById(sql, batchId);
}

/**
 * running → completed / partial / failed, from the counters. `onlyIfAllEnded` (the
 * activity that ran a batch's last jobs): only when every job has ended by the
 * counters, and undefined otherwise (the workflow then finishes it as usual).
 */
export async function finishBatch(
  sql: Db,
  batchId: string,
  epoch: number,
  opts: { onlyIfAllEnded?: boolean } = {},
): Promise<FinishedBatch | undefined> {
  // From its end on, the batch's row holds its whole succeeded count.
  await foldSuccessStripes(sql, batchId);
  // Its chunks' claims (db/chunks.ts) go with it: every job has ended, so no claim has
  // anything left to fence, and a try of a chunk still about (a zombie) that writes
  // after this finds no claim and stops. Its flushes change nothing at this point, so
  // they take no lock on the batch row that this statement holds.
  const [row] = await sql<FinishedBatch[]>`
    with finished as (
      update batches
      set status = ${outcomeFromCounters(sql)},
        paused_at = null,
        completed_at = now()
      where id = ${batchId}
        and status = 'running'
        and redrives = ${epoch}
        ${opts.onlyIfAllEnded ? sql`and ${allJobsEnded(sql)}` : sql``}
      returning ${batchColumns(sql)}, ${thresholdSet(sql)}
    ),
    claims_gone as (
      delete from chunk_claims
      where batch_id = ${batchId}
        and exists (select 1 from finished)
    )
    select * from finished
  `;
  if (row || opts.onlyIfAllEnded) return row;
  // Ended already (a repeated call) or by a later run: report the row as it is.
  const [current] = await sql<FinishedBatch[]>`
    select ${batchColumns(sql)}, ${thresholdSet(sql)}
    from batches
    where id = ${batchId}
  `;
  return current;
}

/** Whether the batch's tenant has a consolidation threshold, so its end must check it. */
const thresholdSet = (sql: Db) => sql`
  exists (
    select 1
    from tenant_settings s
    where s.tenant_id = batches.tenant_id
      and s.consolidation_threshold is not null
  ) as threshold_set
`;

export type FinishedBatch = BatchRow & { thresholdSet: boolean };

/** Deletes a batch whose workflow could not be started (the submit then fails whole). */
export async function deleteBatch(sql: Db, batchId: string): Promise<void> {
  await sql`
    delete from batches
    where id = ${batchId}
  `;
}

/**
 * Ends a batch that has not ended with `outcome`: its unfinished jobs become
 * `cancelled` and are counted in the same statement. A batch that has ended is left as
 * it is. `cancelled` is a cancel request; `failed` is a crossed failure tolerance.
 */
async function endUnfinished(sql: Db, batchId: string, outcome: 'cancelled' | 'failed', epoch: number | undefined): Promise<BatchRow | undefined> {
  await sql`
    with active as (
      select id
      from batches
      where id = ${batchId}
        and status in ('pending', 'running')
        ${epoch === undefined ? sql`` : sql`and redrives = ${epoch}`}
      for update
    ),
    cancelled as (
      update jobs
      set status = 'cancelled',
        completed_at = now(),
        updated_at = now()
      where batch_id in (select id from active)
        and status in ('pending', 'running')
      returning 1
    )
    update batches
    set status = ${outcome}::batch_status,
      cancelled_jobs = cancelled_jobs + (select count(*) from cancelled),
      paused_at = null,
      started_at = coalesce(started_at, now()),
      completed_at = now()
    where id in (select id from active)
  `;
  return getBatchById(sql, batchId);
}

/** `epoch` (here and below): the redrive count the caller's run started with; see BatchSnapshot.epoch. */
export const cancelBatch = (sql: Db, batchId: string, epoch: number | undefined) => endUnfinished(sql, batchId, 'cancelled', epoch);

/** The failure tolerance was crossed: the jobs not yet ended are cancelled, the batch fails. */
export const abortBatch = (sql: Db, batchId: string, epoch: number) => endUnfinished(sql, batchId, 'failed', epoch);
