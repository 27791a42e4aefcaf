import type { TenantSettings as JobTenantSettings } from '../job-types/job-type.js';
import type { Db } from './client.js';

export interface TenantSettings {
  /** Unconsolidated finished jobs that start a consolidation when a batch ends; null: off. */
  consolidationThreshold: number | null;
  /** Finished batches older than this many days are deleted by consolidation; null: kept. */
  retentionDays: number | null;
}

const DEFAULTS: TenantSettings = { consolidationThreshold: null, retentionDays: null };

export async function getTenantSettings(sql: Db, tenantId: string): Promise<TenantSettings> {
  const [row] = await sql<TenantSettings[]>`
    select consolidation_threshold, retention_days
    from tenant_settings
    where tenant_id = ${tenantId}
  `;
  return row ?? { ...DEFAULTS };
}

/** Sets the given fields (null clears one); fields left undefined keep their value. */
export async function updateTenantSettings(sql: Db, tenantId: string, patch: Partial<TenantSettings>): Promise<TenantSettings> {
  const has = (k: keyof TenantSettings) => patch[k] !== undefined;
  const [row] = await sql<TenantSettings[]>`
    insert into tenant_settings (tenant_id, consolidation_threshold, retention_days)
    values (${tenantId}, ${patch.consolidationThreshold ?? null}, ${patch.retentionDays ?? null})
    on conflict (tenant_id) do update
    set consolidation_threshold = ${has('consolidationThreshold') ? sql`excluded.consolidation_threshold` : sql`tenant_settings.consolidation_threshold`},
      retention_days = ${has('retentionDays') ? sql`excluded.retention_days` : sql`tenant_settings.retention_days`},
      updated_at = now()
    returning consolidation_threshold, retention_days
  `;
  return row!;
}

/**
 * The tenant of a batch, its threshold, and its finished jobs not yet consolidated
 * (the sum of the finished, unmarked batches' counters: exact and cheap).
 */
export async function thresholdStateOfBatch(
  sql: Db,
  batchId: string,
): Promise<{ tenantId: string; threshold: number | null; unconsolidatedJobs: number } | undefined> {
  const [row] = await sql<{ tenantId: string; threshold: number | null; unconsolidatedJobs: number }[]>`
    select b.tenant_id,
      s.consolidation_threshold as threshold,
      -- Every batch end asks this: tenants without a threshold skip the sum.
      case when s.consolidation_threshold is null then 0 else (
        select coalesce(sum(u.total_jobs), 0)::int
        from batches u
        where u.tenant_id = b.tenant_id
          and u.consolidation_id is null
          and u.status in ('completed', 'partial', 'failed', 'cancelled')
      ) end as unconsolidated_jobs
    from batches b
    left join tenant_settings s on s.tenant_id = b.tenant_id
    where b.id = ${batchId}
  `;
  return row;
}

/**
 * What a running job may know of its tenant: the hosts http.request may reach even on
 * private addresses. Set by operators (never through the tenant's own API).
 */
export async function getJobTenantSettings(sql: Db, tenantId: string): Promise<JobTenantSettings> {
  const [row] = await sql<{ httpAllowHosts: string[] }[]>`
    select http_allow_hosts
    from tenant_settings
    where tenant_id = ${tenantId}
  `;
  return { httpAllowHosts: row?.httpAllowHosts ?? [] };
}

/** Replaces the tenant's http.request allow-list (hosts are stored lowercase, deduplicated). */
export async function setHttpAllowHosts(sql: Db, tenantId: string, hosts: readonly string[]): Promise<JobTenantSettings> {
  const clean = [...new Set(hosts.map((h) => h.trim().toLowerCase()).filter(Boolean))].sort();
  const [row] = await sql<{ httpAllowHosts: string[] }[]>`
    insert into tenant_settings (tenant_id, http_allow_hosts)
    values (${tenantId}, ${clean})
    on conflict (tenant_id) do update
    set http_allow_hosts = excluded.http_allow_hosts,
      updated_at = now()
    returning http_allow_hosts
  `;
  return { httpAllowHosts: row!.httpAllowHosts };
}

/** The tenant's own cap; null: the default applies. */
export async function getMaxJobsInFlight(sql: Db, tenantId: string): Promise<number | null> {
  const [row] = await sql<{ maxJobsInFlight: number | null }[]>`
    select max_jobs_in_flight
    from tenant_settings
    where tenant_id = ${tenantId}
  `;
  return row?.maxJobsInFlight ?? null;
}

/** Sets (or with null clears) the tenant's own cap; a tenant without a settings row gets one. */
export async function setMaxJobsInFlight(sql: Db, tenantId: string, value: number | null): Promise<number | null> {
  const [row] = await sql<{ maxJobsInFlight: number | null }[]>`
    insert into tenant_settings (tenant_id, max_jobs_in_flight)
    values (${tenantId}, ${value})
    on conflict (tenant_id) do update
    set max_jobs_in_flight = excluded.max_jobs_in_flight,
      updated_at = now()
    returning max_jobs_in_flight
  `;
  return row!.maxJobsInFlight;
}
