/** Reads over a batch's jobs for the results stream and the error summary. */
import type { Db } from './client.js';
import type { JobRow } from './jobs.js';

export type ResultRow = Omit<JobRow, 'startedAt' | 'completedAt'>;

/** One keyset page by position: callers loop with the last seq, so memory stays one page whatever the batch's size. */
export async function resultPage(sql: Db, batchId: string, afterSeq: number, limit: number): Promise<ResultRow[]> {
  return sql<ResultRow[]>`
    select id, seq, status, attempts, input, output, error_type, error_message
    from jobs
    where batch_id = ${batchId}
      and seq > ${afterSeq}
    order by seq
    limit ${limit}
  `;
}

export interface ErrorTypeCount {
  errorType: string | null;
  count: number;
  sample: string | null;
}

/**
 * The failed jobs' most frequent error types, each with one sample message. Grouping
 * and sampling read the partial index jobs_failed_error_type_idx, which holds exactly
 * the failed jobs (`failed_error_type` is their error type, null for any other job).
 */
export async function topErrorTypes(sql: Db, batchId: string, limit = 5): Promise<ErrorTypeCount[]> {
  return sql<ErrorTypeCount[]>`
    select t.error_type, t.count, s.error_message as sample
    from (
      select failed_error_type as error_type, count(*)::int as count
      from jobs
      where batch_id = ${batchId}
        and failed_error_type is not null
      group by failed_error_type
      order by count desc, failed_error_type
      limit ${limit}
    ) t
    cross join lateral (
      select error_message
      from jobs
      where batch_id = ${batchId}
        and failed_error_type = t.error_type
      limit 1
    ) s
    order by t.count desc, t.error_type
  `;
}
