/** A tenant's batches, newest first, and deleting finished ones. */
import { TERMINAL_BATCH_STATUSES, type BatchStatus } from '../lib/names.js';
import { batchColumns, getBatch, type BatchRow } from './batches.js';
import type { Db } from './client.js';

/** A position in the (created_at desc, id desc) order: microseconds since the epoch, exactly, and the id. */
export interface BatchKey {
  createdUs: string;
  id: string;
}

/**
 * One page, keyset-paginated on the index (tenant_id, created_at desc, id desc).
 * Rows inserted while a client pages are newer than its position, so they never shift
 * later pages: no gaps, no repeats. Timestamps travel as exact microseconds, which a
 * JS Date (milliseconds) would round.
 */
export async function listBatches(
  sql: Db,
  tenantId: string,
  q: { status?: BatchStatus | undefined; jobType?: string | undefined; limit: number; after?: BatchKey | undefined },
): Promise<{ rows: BatchRow[]; next: BatchKey | null }> {
  const rows = await sql<(BatchRow & { createdUs: string })[]>`
    select ${batchColumns(sql)},
      (extract(epoch from created_at) * 1000000)::bigint::text as created_us
    from batches
    where tenant_id = ${tenantId}
      ${q.status ? sql`and status = ${q.status}` : sql``}
      ${q.jobType ? sql`and job_type = ${q.jobType}` : sql``}
      ${
        q.after
          ? sql`and (created_at, id) < (timestamptz 'epoch' + ${q.after.createdUs}::bigint * interval '1 microsecond', ${q.after.id}::uuid)`
          : sql``
      }
    order by created_at desc, id desc
    limit ${q.limit + 1}
  `;
  const page = rows.slice(0, q.limit);
  const last = page.at(-1);
  return {
    rows: page.map(({ createdUs: _, ...row }) => row),
    next: rows.length > q.limit && last ? { createdUs: last.createdUs, id: last.id } : null,
  };
}

export type DeleteResult = { ok: true } | { ok: false; reason: 'not-found' | 'not-finished'; batch?: BatchRow };

/** Deletes a finished batch of the tenant; its jobs (and everything else of it) go with it (foreign keys, and the trigger batches_delete_jobs for jobs). */
export async function deleteFinishedBatch(sql: Db, tenantId: string, batchId: string): Promise<DeleteResult> {
  const deleted = await sql`
    delete from batches
    where id = ${batchId}
      and tenant_id = ${tenantId}
      and status in ${sql([...TERMINAL_BATCH_STATUSES])}
    returning id
  `;
  if (deleted.length > 0) return { ok: true };
  const batch = await getBatch(sql, tenantId, batchId);
  return batch ? { ok: false, reason: 'not-finished', batch } : { ok: false, reason: 'not-found' };
}
