/**
 * How a chunked range is cut into chunks and lanes (workflows/chunked.ts). Shared with
 * startBatch, which runs a small batch's only chunk itself (activities/batch.ts).
 */

const MIN_CHUNK = 200;
/**
 * Between two chunks a slot idles for one round trip through the workflow (about 40 ms
 * under load): bigger chunks spread it over more jobs. W1 chunked (100,000 jobs) ran at
 * 35–41k jobs/s with 2,000 and 40–48k with 5,000, W3 alternating with it no slower.
 */
const MAX_CHUNK = 5_000;
/** Jobs per chunk-activity lane; more concurrency means more chunks in flight. */
const LANE_WIDTH = 25;
const MAX_CHUNKS_IN_FLIGHT = 4;
/**
 * Chunks this small run as local activities: no server round trip to schedule, start
 * and complete them, which is most of a small batch's latency. Their crash safety is
 * the workflow task's: a dead worker's task times out and the next worker runs the
 * chunk again, which the job rows make harmless. Kept tiny because a query waits for
 * the workflow task, and so for the local activity, to finish.
 */
export const LOCAL_CHUNK_MAX = 16;

/**
 * Chunks per slot a range is cut into (below MAX_CHUNK). Enough that the last round does
 * not leave most lanes idle; few, because a slot's lanes idle for a round trip through
 * the workflow between two chunks. With 4 rather than 8 (session 7, five alternating
 * pairs each): W2 10.30–10.39 s against 10.46–10.52 (967 jobs/s against 954), W3
 * chunked median 2.52 s against 2.76, W1 1.51 against 1.57.
 */
export const CHUNK_ROUNDS = 4;

/** `rounds`: CHUNK_ROUNDS, or 8 for runs started before it (workflows/chunked.ts). */
export function chunkShape(concurrency: number, jobs: number, rounds = CHUNK_ROUNDS): { chunksInFlight: number; perChunk: number; chunkSize: number } {
  const chunksInFlight = Math.max(1, Math.min(MAX_CHUNKS_IN_FLIGHT, Math.ceil(concurrency / LANE_WIDTH)));
  const perChunk = Math.max(1, Math.ceil(concurrency / chunksInFlight));
  const chunkSize = Math.max(MIN_CHUNK, Math.min(MAX_CHUNK, Math.ceil(jobs / (chunksInFlight * rounds))));
  return { chunksInFlight, perChunk, chunkSize };
}

/** Lanes (jobs in flight) per chunk at this concurrency, the chunks in flight sharing it. */
export function chunkLanes(concurrency: number): number {
  return chunkShape(concurrency, 0).perChunk;
}

/** Start-to-close timeout of a chunk of `size` jobs run `lanes` at a time: every job may take its whole timeout. */
export function chunkTimeoutMs(jobTimeoutMs: number, size: number, lanes: number): number {
  return Math.min(24 * 3_600_000, jobTimeoutMs * Math.ceil(size / lanes) + 60_000);
}

/** Positions [fromSeq, toSeq) of a batch. */
export interface SeqSpan {
  fromSeq: number;
  toSeq: number;
}

/** The span from the lowest of these positions to the highest; none for none. */
export function spanOf(seqs: readonly number[]): SeqSpan | undefined {
  if (seqs.length === 0) return undefined;
  let fromSeq = seqs[0]!;
  let toSeq = fromSeq + 1;
  for (const seq of seqs) {
    if (seq < fromSeq) fromSeq = seq;
    if (seq >= toSeq) toSeq = seq + 1;
  }
  return { fromSeq, toSeq };
}
