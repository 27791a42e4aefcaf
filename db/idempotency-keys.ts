/** Idempotency-Key records for POST /v1/batches: one per (tenant, key). */
import type { Db } from './client.js';

export interface IdempotencyRecord {
  requestHash: Buffer;
  batchId: string;
}

export async function findIdempotencyKey(sql: Db, tenantId: string, key: string): Promise<IdempotencyRecord | undefined> {
  const [row] = await sql<IdempotencyRecord[]>`
    select request_hash, batch_id
    from idempotency_keys
    where tenant_id = ${tenantId}
      and key = ${key}
  `;
  return row;
}

/**
 * Records the key for a batch in the caller's (the batch's) transaction. Returns false
 * when the key is taken: a concurrent request with the same key waits here for the
 * other transaction and, if it committed, loses (the caller then rolls back).
 */
export async function claimIdempotencyKey(sql: Db, tenantId: string, key: string, requestHash: Buffer, batchId: string): Promise<boolean> {
  const rows = await sql`
    insert into idempotency_keys (tenant_id, key, request_hash, batch_id)
    values (${tenantId}, ${key}, ${requestHash}, ${batchId})
    on conflict (tenant_id, key) do nothing
    returning 1
  `;
  return rows.length > 0;
}
