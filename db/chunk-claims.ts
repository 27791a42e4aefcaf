/**
 * A chunk activity's claim on the positions of the jobs it starts (activities/chunk-claim.ts
 * moves it a window ahead of the lanes): the row that tells a later try of the same chunk
 * which jobs an earlier try may have started, and that fences the earlier try's writes
 * off (recordOutcomes in db/chunks.ts takes it `for key share`).
 */
import type { Db } from './client.js';

/** Identifies one chunk activity's claim and the try that holds it. */
export interface ChunkClaim {
  batchId: string;
  /** workflow id / run id / activity id: the same on every try of the activity. */
  chunk: string;
  /** This try; a random id, since a re-run local activity may start its attempts at 1 again. */
  owner: string;
}

/**
 * Takes the chunk's claim for this try, covering positions up to `initialThrough`.
 * Returns the positions an earlier try had claimed (its jobs there may have run
 * without a recorded outcome), or null on the chunk's first try. From the moment
 * this commits, the earlier try's writes are refused. Its `for update` is what waits
 * for the earlier try's flushes in flight (their `for key share`) and extensions.
 */
export async function openClaim(sql: Db, claim: ChunkClaim, initialThrough: number): Promise<{ prior: number | null; through: number }> {
  const [row] = await sql<{ prior: number | null; through: number }[]>`
    with prev as materialized (
      select through_seq
      from chunk_claims
      where batch_id = ${claim.batchId}
        and chunk = ${claim.chunk}
      for update
    ),
    up as (
      insert into chunk_claims (batch_id, chunk, owner, through_seq)
      values (${claim.batchId}, ${claim.chunk}, ${claim.owner}, ${initialThrough})
      on conflict (batch_id, chunk) do update
      set owner = excluded.owner,
        through_seq = greatest(chunk_claims.through_seq, excluded.through_seq),
        updated_at = now()
      returning through_seq
    )
    select (select through_seq from prev) as prior, (select through_seq from up) as through
  `;
  return row!;
}

/**
 * Moves the claim forward to cover positions up to `through`. False when another try
 * of the chunk has taken it over: this one must stop starting jobs. It waits for a
 * takeover in progress (whose `for update` conflicts with this update), never for the
 * chunk's own flushes (see recordOutcomes in db/chunks.ts).
 */
export async function extendClaim(sql: Db, claim: ChunkClaim, through: number): Promise<boolean> {
  const rows = await sql`
    update chunk_claims
    set through_seq = greatest(through_seq, ${through}),
      updated_at = now()
    where batch_id = ${claim.batchId}
      and chunk = ${claim.chunk}
      and owner = ${claim.owner}
    returning 1
  `;
  return rows.length > 0;
}
