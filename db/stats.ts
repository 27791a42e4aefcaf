import type { Db } from './client.js';

export interface DailyStats {
  jobType: string;
  day: string;
  jobs: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  retries: number;
  p50Ms: number | null;
  p95Ms: number | null;
}

/**
 * Per job type and day, the sum of every consolidation's roll-up. Counts are exact;
 * when a day was rolled up by more than one consolidation its percentiles are the
 * job-weighted mean of theirs (an estimate: percentiles do not add up).
 */
export async function listDailyStats(
  sql: Db,
  tenantId: string,
  q: { jobType?: string | undefined; from?: string | undefined; to?: string | undefined },
): Promise<DailyStats[]> {
  return sql<DailyStats[]>`
    select job_type,
      to_char(day, 'YYYY-MM-DD') as day,
      sum(jobs)::int as jobs,
      sum(succeeded)::int as succeeded,
      sum(failed)::int as failed,
      sum(cancelled)::int as cancelled,
      sum(retries)::int as retries,
      (sum(p50_ms * jobs) filter (where p50_ms is not null) / nullif(sum(jobs) filter (where p50_ms is not null), 0))::float8 as p50_ms,
      (sum(p95_ms * jobs) filter (where p95_ms is not null) / nullif(sum(jobs) filter (where p95_ms is not null), 0))::float8 as p95_ms
    from job_stats_daily
    where tenant_id = ${tenantId}
      ${q.jobType ? sql`and job_type = ${q.jobType}` : sql``}
      ${q.from ? sql`and day >= ${q.from}::date` : sql``}
      ${q.to ? sql`and day <= ${q.to}::date` : sql``}
    group by job_type, day
    order by day desc, job_type
    limit 1000
  `;
}
