/**
 * What the chunk activity (chunk.ts) and the workflow that runs it (workflows/chunked.ts)
 * hand each other: ids, positions and counts, never payloads; `handBack`, which puts a
 * chunk's result in the form its workflow asked for; and the helpers that make its entries.
 */
import type { AttemptOutcome, ChunkJob } from '../db/chunks.js';
import type { SeqSpan } from '../lib/chunk-shape.js';
import type { BatchSnapshot } from './batch.js';

export interface ChunkArgs {
  batchId: string;
  tenantId: string;
  jobType: string;
  /** A first pass over positions [fromSeq, toSeq)… */
  range?: { fromSeq: number; toSeq: number };
  /** …or a retry round over the jobs at these positions… */
  seqs?: number[];
  /** …or over these jobs (workflows that ran before positions were sent), … */
  ids?: string[];
  /** …each with the attempts the workflow last heard of (`JobRef.seen`), in the same order… */
  seen?: number[];
  /** …and, for `ids`, all at positions in this span (absent from workflows started before it was sent). */
  within?: SeqSpan;
  /**
   * Hand jobs back by position (`retryAt`, `deferredAt`) rather than as a list of
   * entries (`retry`, `deferred`): a tenth of the bytes through Temporal's history.
   * Absent from workflows that ran before it; they read entries.
   */
  byPosition?: true;
  /** Attempts per job in this run of the batch (counted from the job's retry base). */
  maxAttempts: number;
  concurrency: number;
  /** The batch's failure tolerance as a count; past it the chunk stops taking jobs. */
  failureLimit: number | null;
  /**
   * Set when this chunk holds all of the batch's jobs: if every one of them ends here,
   * the chunk finishes the batch too (one local activity less for a small batch).
   */
  finish?: { epoch: number };
}

/** A job handed back to the workflow. */
export interface JobRef {
  id: string;
  /**
   * The job's attempts counter as this chunk left it. A later chunk that finds it
   * higher knows an earlier try of that chunk recorded an outcome already.
   */
  seen: number;
  /** Its position in the batch (absent from results recorded before it was sent). */
  seq?: number;
}

/** Jobs handed back by position: `seen[i]` is the attempts counter of the job at `seqs[i]`. */
export interface JobsAt {
  seqs: number[];
  seen: number[];
}

/** Jobs handed back for a retry by position; `attempts[i]` and `retryAfterMs[i]` as in RetryEntry. */
export interface RetriesAt extends JobsAt {
  attempts: number[];
  /** Present when a handler asked for its own delay; null for the others. */
  retryAfterMs?: (number | null)[];
}

export interface RetryEntry extends JobRef {
  /** Attempts made so far in this run of the batch, the failed one included. */
  attempts: number;
  retryAfterMs?: number;
}

export interface ChunkResult {
  succeeded: number;
  failed: number;
  /** Jobs whose attempt failed and may be retried, for the workflow's backoff timers (empty when `byPosition`)… */
  retry: RetryEntry[];
  /** …or the same by position, when the chunk was asked `byPosition`. */
  retryAt?: RetriesAt;
  /**
   * When the latest of those attempts failed (ms since the epoch, the worker's clock):
   * their backoff counts from there, as Temporal counts an activity's. Absent from
   * results recorded before it was sent.
   */
  lastFailureAt?: number;
  /**
   * Jobs not attempted because the chunk stopped early: the batch was paused, ended,
   * or crossed its failure tolerance. The workflow runs them again after a resume.
   */
  deferred: JobRef[];
  /** The same by position, when the chunk was asked `byPosition` (`deferred` is then empty). */
  deferredAt?: JobsAt;
  /** The batch's failed counter as of the chunk's last write. */
  batchFailed: number;
  /** The batch as `finish` left it, when this chunk finished it. */
  finished?: BatchSnapshot & { thresholdSet: boolean };
  /** The tenant had no slot free (its cap on jobs in flight): nothing ran, every job is `deferred`. */
  throttled?: boolean;
}

/**
 * The result as the workflow asked for it: jobs handed back by position, in parallel
 * arrays (a tenth of the bytes of entries with ids through Temporal's history: W3's
 * chunk results and retry rounds were 2.4 MB), or as entries for workflows of before.
 */
export function handBack(result: ChunkResult, byPosition: true | undefined): ChunkResult {
  if (!byPosition) return result;
  const { retry, deferred, ...rest } = result;
  const out: ChunkResult = { ...rest, retry: [], deferred: [] };
  if (retry.length > 0) {
    out.retryAt = { seqs: retry.map((e) => e.seq!), seen: retry.map((e) => e.seen), attempts: retry.map((e) => e.attempts) };
    if (retry.some((e) => e.retryAfterMs !== undefined)) out.retryAt.retryAfterMs = retry.map((e) => e.retryAfterMs ?? null);
  }
  if (deferred.length > 0) out.deferredAt = { seqs: deferred.map((j) => j.seq!), seen: deferred.map((j) => j.seen) };
  return out;
}

/** One attempt's outcome as a flush writes it. */
export function outcome(
  { id, seq }: Pick<ChunkJob, 'id' | 'seq'>,
  status: AttemptOutcome['status'],
  output: unknown,
  errorType: string | null,
  errorMessage: string | null,
): AttemptOutcome {
  return { id, seq, status, output, errorType, errorMessage };
}

/** The job handed back to the workflow, its attempts counter at `seen`. */
export const refOf = (job: ChunkJob, seen = job.attempts): JobRef => ({ id: job.id, seq: job.seq, seen });

/** The job handed back for a retry, its attempts counter at `counter` (the failed attempt's). */
export const retryOf = (job: ChunkJob, counter: number): RetryEntry => ({ ...refOf(job, counter), attempts: counter - job.retryBase });
