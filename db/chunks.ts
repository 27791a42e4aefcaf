/**
 * Bulk reads and writes for chunked execution: many jobs per activity, one statement
 * per flush of outcomes.
 */
import type { JobStatus } from '../lib/names.js';
import { spanOf, type SeqSpan } from '../lib/chunk-shape.js';
import type { ChunkClaim } from './chunk-claims.js';
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

/**
 * The given jobs of the batch that have not ended, in order. `within`: the positions
 * they lie in, read instead of looking each id up (see recordOutcomes on why).
 */
export async function loadByIds(sql: Db, batchId: string, ids: readonly string[], within?: SeqSpan): Promise<ChunkJob[]> {
  return sql<ChunkJob[]>`
    select id, seq, status, attempts, retry_base, input
    from jobs
    where batch_id = ${batchId}
      ${
        within
          ? sql`and seq >= ${within.fromSeq} and seq < ${within.toSeq} and ${keySet(ids)}::text::jsonb ? id::text`
          : sql`and id = any(${ids as string[]}::uuid[])`
      }
      and status in ('pending', 'running')
    order by seq
  `;
}

/**
 * The jobs at these positions of the batch that have not ended, in order. Positions
 * that fill most of their span (`fillsSpan`) are read as the span, filtered by a JSON
 * object keyed by position. Sparser ones (a retry round's: W3's are a tenth of their
 * span) are looked up one at a time: a lateral subquery with `limit 1` cannot be merged
 * into a join, so each position is one probe of the (batch_id, seq) key, whatever the
 * planner's statistics say. Reading the span instead reads ten rows for each one wanted
 * in a retry round of W3 (76 ms against 25 for 5,000 positions every tenth). `seq =
 * any(…)` is not safe: on a batch the statistics do not know yet, the planner used the
 * key on `batch_id` alone and filtered every row of the batch by the array (38–53 ms a
 * flush of 1,000, against 13–18 by span). Mind it if an index on `batch_id` alone is
 * ever added: it would be a candidate for these probes too.
 */
export async function loadBySeqs(sql: Db, batchId: string, seqs: readonly number[]): Promise<ChunkJob[]> {
  const span = spanOf(seqs);
  if (!span) return [];
  if (fillsSpan(seqs.length, span)) {
    return sql<ChunkJob[]>`
      select id, seq, status, attempts, retry_base, input
      from jobs
      where batch_id = ${batchId}
        and seq >= ${span.fromSeq}
        and seq < ${span.toSeq}
        and ${keySet(seqs)}::text::jsonb ? seq::text
        and status in ('pending', 'running')
      order by seq
    `;
  }
  // The probe returns the row itself: probing for the id and reading the rows by it
  // went down two indexes per job (31 ms against 40 for 5,000 positions every tenth).
  return sql<ChunkJob[]>`
    select x.id, x.seq, x.status, x.attempts, x.retry_base, x.input
    from unnest(${arrayText([...new Set(seqs)])}::text::int[]) as s(seq)
    cross join lateral (
      select id, seq, status, attempts, retry_base, input
      from jobs
      where batch_id = ${batchId}
        and seq = s.seq
        and status in ('pending', 'running')
      limit 1
    ) x
    order by x.seq
  `;
}

/**
 * `{1,2,3}`: whole numbers or UUIDs as the text of a PostgreSQL array, to be cast
 * (`::text::int[]`, `::text::uuid[]`). Neither needs quoting; postgres.js's own array
 * encoding escapes every element (about 30 ms of the worker's main thread over W3).
 */
function arrayText(values: readonly (number | string)[]): string {
  return `{${values.join(',')}}`;
}

/*
 * Job ids or positions as the keys of one JSON object, which `?` and `->` search by
 * binary search. Written out directly: ids are UUIDs, positions whole numbers and
 * statuses plain words, the rest goes through JSON.stringify. (Object.fromEntries and
 * JSON.stringify took 0.7 ms a flush of 1,000, this 0.2.) Sent as text: postgres.js
 * would encode a string param of type jsonb as a JSON string.
 */

/** `{"<id>":1,…}` or `{"<seq>":1,…}` */
function keySet(keys: readonly (string | number)[]): string {
  return `{${keys.map((k) => `"${k}":1`).join(',')}}`;
}

/** `{"s":status,"o":output,"t":error type,"m":error message}`, absent keys for nulls. */
function outcomeJson(o: AttemptOutcome): string {
  let part = `{"s":"${o.status}"`;
  const output = o.status === 'succeeded' && o.output !== null ? (JSON.stringify(o.output) as string | undefined) : undefined;
  if (output !== undefined) part += `,"o":${output}`;
  if (o.errorType !== null) part += `,"t":${JSON.stringify(o.errorType)}`;
  if (o.errorMessage !== null) part += `,"m":${JSON.stringify(o.errorMessage)}`;
  return `${part}}`;
}

/**
 * `{"<seq>":<outcome>,…}`. Keyed by position, which names the job within its batch as
 * surely as its id does, in fewer bytes: a flush of 1,000 no-op outcomes is 56 KB, not
 * 87. (Writes to PostgreSQL's socket take a tenth of the worker's main thread in W1,
 * but per write rather than per byte: their share did not move with the smaller flushes.)
 */
function outcomesBySeq(outcomes: readonly AttemptOutcome[]): string {
  return `{${outcomes.map((o) => `"${o.seq}":${outcomeJson(o)}`).join(',')}}`;
}

/** `[<outcome at span.fromSeq>,0,<outcome>,…]`: one entry per position of the span, 0 where none. */
function outcomesByOffset(outcomes: readonly AttemptOutcome[], span: SeqSpan): string {
  const entries = new Array<string>(span.toSeq - span.fromSeq).fill('0');
  for (const o of outcomes) entries[o.seq - span.fromSeq] = outcomeJson(o);
  return `[${entries.join(',')}]`;
}

/**
 * Positions that fill at least half their span (a first pass's) are read as the span,
 * and a flush of them sends its outcomes as a JSON array by offset; sparser ones (a
 * retry round's, a tenth of its span) are found by key (loadBySeqs, recordOutcomes),
 * and a flush of them sends its outcomes keyed by position (an array would be mostly
 * zeros).
 */
const fillsSpan = (count: number, span: SeqSpan) => count >= 0.5 * (span.toSeq - span.fromSeq);

/**
 * One attempt's outcome: `succeeded` and `failed` end the job; `running` records a
 * failed attempt that will be retried.
 */
export interface AttemptOutcome {
  id: string;
  /** The job's position in its batch. */
  seq: number;
  status: 'succeeded' | 'failed' | 'running';
  output: unknown;
  errorType: string | null;
  errorMessage: string | null;
}

/**
 * Writes a flush of outcomes and counts the ended jobs on the batch, in one
 * statement. A job that has ended already is left alone and not counted again, so a
 * repeated flush (a retried or duplicated activity) changes nothing. Only the try
 * that holds the chunk's claim writes (`owned` says whether this one still does).
 *
 * The claim row's lock orders this write against a takeover: `for key share`, which
 * conflicts only with `for update`. A takeover (openClaim) takes `for update`, so it
 * waits for flushes in flight, and a flush that comes after it finds another owner.
 * The chunk's own extendClaim, an update of non-key columns (`for no key update`),
 * does not wait for this statement: with `for share` it did, and the lanes stalled for
 * the whole flush (about 35 ms under W1's load) each time they ran out of claim.
 *
 * How the rows are found does not depend on the planner's statistics, which cannot
 * know a batch whose rows are this new: they can take a 100,000-job batch for a row or
 * two. Joined to the outcomes (unnest), the planner then read all of the batch's rows
 * for every flush (48 ms a flush in W1, against 2), or, with the join's other input
 * also misjudged, rescanned the outcomes for every row (500 ms). So there is no join.
 * A flush that fills most of its span (a first pass's) reads the span's rows; a
 * sparser one (a retry round's) finds its rows by id (10 ms a flush of 1,000 every
 * tenth, against 12.5 by a probe of the position for each id, 13–18 by span).
 * Each row's outcome comes out of one JSON value: an array by offset in the span when
 * the flush is dense, otherwise an object keyed by position.
 */
export async function recordOutcomes(sql: Db, claim: ChunkClaim, outcomes: readonly AttemptOutcome[]): Promise<RecordedOutcomes> {
  const batchId = claim.batchId;
  if (outcomes.length === 0) return { succeeded: 0, failed: 0, retrying: 0, batchFailed: 0, owned: true };
  const span = spanOf(outcomes.map((o) => o.seq))!;
  // Read through a sub-select, which runs once: joined as a table, the JSON would be
  // copied out for every row (15 ms a flush of 1,000). A dense flush finds each row's
  // outcome by its offset in an array, which jsonb reaches directly, not by a binary
  // search of text keys made from the position: 4.5–4.8 ms a flush of 1,000 in a
  // trial against 5.8–6.6 (the statement's other work included).
  const dense = fillsSpan(outcomes.length, span);
  const outcomesText = dense ? outcomesByOffset(outcomes, span) : outcomesBySeq(outcomes);
  const outcome = dense ? sql`((select given from o) -> (j.seq - ${span.fromSeq}))` : sql`((select given from o) -> j.seq::text)`;
  // A dense flush reads its span; a sparse one finds its rows by their ids, one probe of
  // the primary key each. Its batch is checked in a form no index can serve (`is true`):
  // as a plain `batch_id = …`, the planner could read the whole batch by it.
  const rows = dense
    ? sql`j.batch_id = ${batchId} and j.seq >= ${span.fromSeq} and j.seq < ${span.toSeq} and (${outcome} ->> 's') is not null`
    : sql`j.id = any(${arrayText(outcomes.map((o) => o.id))}::text::uuid[]) and (j.batch_id = ${batchId}) is true`;
  const [row] = await sql<RecordedOutcomes[]>`
    with claim as materialized (
      select 1
      from chunk_claims
      where batch_id = ${batchId}
        and chunk = ${claim.chunk}
        and owner = ${claim.owner}
      for key share
    ),
    o as materialized (
      select ${outcomesText}::text::jsonb as given
    ),
    updated as (
      update jobs j
      set status = (${outcome} ->> 's')::job_status,
        attempts = j.attempts + 1,
        output = ${outcome} -> 'o',
        error_type = coalesce(${outcome} ->> 't', j.error_type),
        error_message = coalesce(${outcome} ->> 'm', j.error_message),
        started_at = coalesce(j.started_at, now()),
        completed_at = case when ${outcome} ->> 's' = 'running' then null else now() end,
        updated_at = now()
      where ${rows}
        and j.status in ('pending', 'running')
        and exists (select 1 from claim)
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
      coalesce((select failed_jobs from counted), (select failed_jobs from batches where id = ${batchId}), 0) as batch_failed,
      exists (select 1 from claim) as owned
    from tally
  `;
  return row!;
}

/** What a flush did, and the batch's failed counter after it (for the failure tolerance). */
export interface RecordedOutcomes {
  succeeded: number;
  failed: number;
  retrying: number;
  batchFailed: number;
  /** False when another try of the chunk holds its claim: nothing was written. */
  owned: boolean;
}
