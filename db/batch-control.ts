/**
 * Batch control (issue 4): the pause flag and live concurrency the workflow records,
 * and redrive, which sends a finished batch's failed jobs round again.
 */
import { TERMINAL_BATCH_STATUSES } from '../lib/names.js';
import { allJobsEnded, outcomeFromCounters } from './batch-counters.js';
import { batchColumns, getBatchById, type BatchRow } from './batches.js';
import type { Db } from './client.js';

/**
 * Records what the running workflow now does (written from its update handlers, so the
 * row and the workflow agree). Only a running batch moves.
 */
export async function setBatchControl(sql: Db, batchId: string, c: { paused: boolean; concurrency: number }): Promise<void> {
  await sql`
    update batches
    set paused_at = case when ${c.paused} then coalesce(paused_at, now()) else null end,
      concurrency = ${c.concurrency}
    where id = ${batchId}
      and status = 'running'
  `;
}

/** What chunk activities check between jobs: stop when paused, no longer running, or past the tolerance. */
export async function batchGate(sql: Db, batchId: string): Promise<{ running: boolean; paused: boolean; failed: number } | undefined> {
  const [row] = await sql<{ running: boolean; paused: boolean; failed: number }[]>`
    select status = 'running' as running, paused_at is not null as paused, failed_jobs as failed
    from batches
    where id = ${batchId}
  `;
  return row;
}

export type RedriveResult =
  | { ok: true; batch: BatchRow; jobs: number }
  | { ok: false; reason: 'not-found' | 'not-finished' | 'nothing-to-retry'; batch?: BatchRow };

/**
 * A finished batch's failed jobs (only those of `errorType`, when given) go back to
 * `pending` and the batch back to `running`, in one statement: the failed counter
 * drops by exactly the jobs reset. The jobs keep their attempts and last error;
 * `retry_base` marks where their fresh retry budget starts.
 */
export async function redriveBatch(sql: Db, tenantId: string, batchId: string, errorType: string | undefined): Promise<RedriveResult> {
  const [row] = await sql<(BatchRow & { reset: number })[]>`
    with target as (
      select id
      from batches
      where id = ${batchId}
        and tenant_id = ${tenantId}
        and status in ${sql(TERMINAL_BATCH_STATUSES)}
      for update
    ),
    reset as (
      update jobs
      set status = 'pending',
        retry_base = attempts,
        completed_at = null,
        updated_at = now()
      where batch_id in (select id from target)
        and status = 'failed'
        ${errorType === undefined ? sql`` : sql`and failed_error_type = ${errorType}`}
      returning 1
    ),
    counted as (
      select count(*)::int as n
      from reset
    )
    update batches
    set status = 'running',
      failed_jobs = failed_jobs - counted.n,
      redrives = redrives + 1,
      paused_at = null,
      completed_at = null
    from counted
    where batches.id in (select id from target)
      and counted.n > 0
    returning ${batchColumns(sql)}, counted.n as reset
  `;
  if (row) {
    const { reset, ...batch } = row;
    return { ok: true, batch, jobs: reset };
  }
  const batch = await getBatchById(sql, batchId);
  if (!batch || batch.tenantId !== tenantId) return { ok: false, reason: 'not-found' };
  if (!TERMINAL_BATCH_STATUSES.includes(batch.status)) return { ok: false, reason: 'not-finished', batch };
  return { ok: false, reason: 'nothing-to-retry', batch };
}

/**
 * Takes a redrive back when its workflow could not be started: the jobs it reset and
 * that have not run since (still pending, attempts unchanged) are failed again, and
 * the batch gets its outcome from the counters once more.
 */
export async function undoRedrive(sql: Db, batchId: string): Promise<void> {
  await sql`
    with refailed as (
      update jobs
      set status = 'failed',
        completed_at = now(),
        updated_at = now()
      where batch_id = ${batchId}
        and status = 'pending'
        and attempts > 0
        and attempts = retry_base
      returning 1
    )
    update batches
    set failed_jobs = failed_jobs + (select count(*) from refailed)
    where id = ${batchId}
  `;
  await sql`
    update batches
    set status = ${outcomeFromCounters(sql)},
      completed_at = now()
    where id = ${batchId}
      and status = 'running'
      and ${allJobsEnded(sql)}
  `;
}
