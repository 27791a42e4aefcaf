/**
 * The effects of each consolidation phase. Each runs inside `runPhaseOnce`'s
 * transaction and reads only the batches its consolidation collected.
 */
import type { ConsolidationScope } from '../lib/names.js';
import type { Db } from './client.js';

/** Marks the tenant's finished, unconsolidated batches in scope as this consolidation's. */
export async function collectBatches(
  sql: Db,
  c: { id: string; tenantId: string; scope: ConsolidationScope },
): Promise<{ batches: number; jobs: number }> {
  const s = c.scope;
  await sql`
    update batches
    set consolidation_id = ${c.id}
    where tenant_id = ${c.tenantId}
      and consolidation_id is null
      and status in ('completed', 'partial', 'failed', 'cancelled')
      ${s.jobTypes?.length ? sql`and job_type = any(${sql.array(s.jobTypes)}::text[])` : sql``}
      ${s.batchIds?.length ? sql`and id = any(${sql.array(s.batchIds)}::uuid[])` : sql``}
      ${s.from ? sql`and completed_at >= ${s.from}::timestamptz` : sql``}
      ${s.to ? sql`and completed_at < ${s.to}::timestamptz` : sql``}
  `;
  const [row] = await sql<{ batches: number; jobs: number }[]>`
    select count(*)::int as batches, coalesce(sum(total_jobs), 0)::int as jobs
    from batches
    where consolidation_id = ${c.id}
  `;
  return row!;
}

/**
 * Rolls the collected jobs up per job type and UTC day of their end: counts, retries
 * (attempts beyond the first) and run-time percentiles (jobs that never started have
 * no run time and are left out of the percentiles only).
 */
export async function rollUpStats(sql: Db, consolidationId: string): Promise<{ rows: number; jobs: number }> {
  const rows = await sql<{ jobs: number }[]>`
    insert into job_stats_daily (
      consolidation_id, tenant_id, job_type, day, jobs, succeeded, failed, cancelled, retries, p50_ms, p95_ms
    )
    select ${consolidationId}::uuid,
      b.tenant_id,
      b.job_type,
      (coalesce(j.completed_at, b.completed_at) at time zone 'UTC')::date,
      count(*)::int,
      (count(*) filter (where j.status = 'succeeded'))::int,
      (count(*) filter (where j.status = 'failed'))::int,
      (count(*) filter (where j.status = 'cancelled'))::int,
      coalesce(sum(greatest(j.attempts - 1, 0)), 0)::int,
      percentile_cont(0.5) within group (order by extract(epoch from (j.completed_at - j.started_at)) * 1000),
      percentile_cont(0.95) within group (order by extract(epoch from (j.completed_at - j.started_at)) * 1000)
    from jobs j
    join batches b on b.id = j.batch_id
    where b.consolidation_id = ${consolidationId}
    group by 2, 3, 4
    on conflict do nothing
    returning jobs
  `;
  return { rows: rows.length, jobs: rows.reduce((n, r) => n + r.jobs, 0) };
}

export const DOCUMENT_JOB_TYPE = 'document.analyze';

export interface DocumentSignature {
  jobId: string;
  minhash: number[] | null;
  embedding: number[] | null;
}

/** The collected `document.analyze` results that carry a signature to compare. */
export async function listDocumentSignatures(sql: Db, consolidationId: string, limit: number): Promise<DocumentSignature[]> {
  return sql<DocumentSignature[]>`
    select j.id as job_id,
      case when jsonb_typeof(j.output -> 'minhash') = 'array' then j.output -> 'minhash' end as minhash,
      case when jsonb_typeof(j.output -> 'embedding') = 'array' then j.output -> 'embedding' end as embedding
    from jobs j
    join batches b on b.id = j.batch_id
    where b.consolidation_id = ${consolidationId}
      and b.job_type = ${DOCUMENT_JOB_TYPE}
      and j.status = 'succeeded'
      and (jsonb_typeof(j.output -> 'minhash') = 'array' or jsonb_typeof(j.output -> 'embedding') = 'array')
    order by j.id
    limit ${limit}
  `;
}

export async function insertDocumentClusters(sql: Db, consolidationId: string, clusters: string[][]): Promise<void> {
  if (clusters.length === 0) return;
  // One row per cluster; the id lists travel as one JSON array, unpacked server-side.
  await sql`
    insert into document_clusters (consolidation_id, cluster_no, job_ids)
    select ${consolidationId}::uuid,
      (t.ord - 1)::int,
      array(select jsonb_array_elements_text(t.ids)::uuid)
    from jsonb_array_elements(${sql.json(clusters as never)}) with ordinality as t(ids, ord)
    on conflict do nothing
  `;
}

/**
 * Deletes the tenant's batches that finished more than `retentionDays` ago and whose
 * jobs are already rolled up into stats (their consolidation completed `stats`), so
 * no job leaves without being counted. Jobs go with them (the trigger batches_delete_jobs).
 */
export async function deleteExpiredBatches(
  sql: Db,
  tenantId: string,
  retentionDays: number,
): Promise<{ batchesDeleted: number; jobsDeleted: number }> {
  const rows = await sql<{ totalJobs: number }[]>`
    delete from batches b
    where b.tenant_id = ${tenantId}
      and b.status in ('completed', 'partial', 'failed', 'cancelled')
      and b.completed_at < now() - make_interval(days => ${retentionDays}::int)
      and b.consolidation_id in (
        select c.id
        from consolidations c
        where c.tenant_id = ${tenantId}
          and 'stats' = any(c.phases_completed)
      )
    returning b.total_jobs
  `;
  return { batchesDeleted: rows.length, jobsDeleted: rows.reduce((n, r) => n + r.totalJobs, 0) };
}
