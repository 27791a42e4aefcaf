/** Reads for readiness and metrics: cheap, tenant-agnostic. */
import { BATCH_STATUSES, type BatchStatus } from '../lib/names.js';
import type { Db } from './client.js';

export async function ping(sql: Db): Promise<void> {
  await sql`select 1`;
}

/** Batches per status over all tenants (every status present, zero when none). */
export async function countBatchesByStatus(sql: Db): Promise<Record<BatchStatus, number>> {
  const rows = await sql<{ status: BatchStatus; count: number }[]>`
    select status, count(*)::int as count
    from batches
    group by status
  `;
  const counts = Object.fromEntries(BATCH_STATUSES.map((s) => [s, 0])) as Record<BatchStatus, number>;
  for (const r of rows) counts[r.status] = r.count;
  return counts;
}
