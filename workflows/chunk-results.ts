/**
 * What a chunk's result hands back to the workflow (workflows/chunked.ts), read the same
 * whichever form it came in: by position (`retryAt`, `deferredAt`; chunks asked
 * `byPosition`) or as entries with ids (results recorded before it).
 */
import type { ChunkResult } from '../activities/index.js';

/**
 * A job the workflow holds for another round: its position and attempts counter, and
 * for results recorded before `byPosition` its id too (the oldest have no position).
 */
export interface Held {
  seq?: number | undefined;
  id?: string;
  seen: number;
}

export interface HandedBack {
  /** Jobs to retry, and the longest backoff among them (the policy's for their attempts, or a handler's own). */
  retry?: { jobs: Held[]; backoff: number };
  /** Jobs not attempted, to run again. */
  deferred: Held[];
}

/** `backoffOf(attempts)`: the batch policy's backoff after that many attempts. */
export function handedBack(result: ChunkResult, backoffOf: (attempts: number) => number): HandedBack {
  const out: HandedBack = { deferred: [] };
  const at = result.retryAt;
  if (at) {
    let backoff = 0;
    at.attempts.forEach((attempts, i) => (backoff = Math.max(backoff, at.retryAfterMs?.[i] ?? backoffOf(attempts))));
    out.retry = { jobs: at.seqs.map((seq, i) => ({ seq, seen: at.seen[i]! })), backoff };
  } else if (result.retry.length > 0) {
    let backoff = 0;
    for (const e of result.retry) backoff = Math.max(backoff, e.retryAfterMs ?? backoffOf(e.attempts));
    out.retry = { jobs: result.retry.map(({ id, seen, seq }) => ({ id, seen, seq })), backoff };
  }
  const deferredAt = result.deferredAt;
  if (deferredAt) out.deferred = deferredAt.seqs.map((seq, i) => ({ seq, seen: deferredAt.seen[i]! }));
  else out.deferred = result.deferred.map(({ id, seen, seq }) => ({ id, seen, seq }));
  return out;
}
