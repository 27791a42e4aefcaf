/**
 * The error summary of `GET /v1/batches/:id` (its failed jobs' most frequent error
 * types) reads every failed job of the batch: 47–49 ms at 100,000 failed jobs. A
 * client polling a failing batch (a progress bar, `batchworks wait`) had PostgreSQL
 * read them all on every poll: 20 polls a second made a 100,000-job batch of failing
 * jobs run 3.8 s instead of about 1.3.
 *
 * So each API process keeps the latest summary per batch. While the batch runs, a
 * summary is read again at most once a second (its counts may then trail the batch's
 * `counters.failed` by that second). Once the batch has ended, the summary is read once
 * more if anything changed since, and then kept: an ended batch's failed jobs change
 * only by a redrive, which starts it running again.
 */
import { TERMINAL_BATCH_STATUSES, type BatchStatus } from '../lib/names.js';

/** While a batch runs, the longest a summary is served before it is read again. */
export const RUNNING_SUMMARY_MAX_AGE_MS = 1_000;
/** Batches whose summary one API process keeps; the least recently read go first. */
const MAX_BATCHES = 1_000;

/** What the summary depends on, as the batch row says it. */
export interface SummaryKey {
  status: BatchStatus;
  failedJobs: number;
  redrives: number;
}

interface Entry<T> {
  key: SummaryKey;
  readAt: number;
  summary: Promise<T>;
}

const sameKey = (a: SummaryKey, b: SummaryKey) => a.status === b.status && a.failedJobs === b.failedJobs && a.redrives === b.redrives;

export function errorSummaryCache<T>(now: () => number = () => performance.now()) {
  const entries = new Map<string, Entry<T>>();
  return {
    /** The batch's summary: kept, or read with `load` (callers sharing one read while it runs). */
    get(batchId: string, key: SummaryKey, load: () => Promise<T>): Promise<T> {
      const entry = entries.get(batchId);
      const t = now();
      if (entry) {
        entries.delete(batchId);
        const fresh = sameKey(entry.key, key) || (!TERMINAL_BATCH_STATUSES.includes(key.status) && t - entry.readAt < RUNNING_SUMMARY_MAX_AGE_MS);
        if (fresh) {
          entries.set(batchId, entry);
          return entry.summary;
        }
      }
      const summary = load();
      entries.set(batchId, { key, readAt: t, summary });
      // A failed read is not kept: the next request reads again.
      summary.catch(() => {
        if (entries.get(batchId)?.summary === summary) entries.delete(batchId);
      });
      while (entries.size > MAX_BATCHES) entries.delete(entries.keys().next().value!);
      return summary;
    },
  };
}
