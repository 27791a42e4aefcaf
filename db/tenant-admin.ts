/** Operator reads and writes of tenants and their API keys (the admin API). */
import type { Db } from './client.js';
import type { Tenant } from './tenants.js';

export interface TenantSummary extends Tenant {
  activeKeys: number;
}

export interface ApiKeyRow {
  id: string;
  tenantId: string;
  name: string;
  prefix: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export async function getTenant(sql: Db, tenantId: string): Promise<Tenant | undefined> {
  const [tenant] = await sql<Tenant[]>`
    select id, name, created_at
    from tenants
    where id = ${tenantId}
  `;
  return tenant;
}

/** Tenants by name, keyset-paginated on the name (unique). */
export async function listTenants(sql: Db, opts: { afterName?: string | undefined; limit: number }): Promise<TenantSummary[]> {
  return sql<TenantSummary[]>`
    select t.id, t.name, t.created_at,
      (select count(*)::int from api_keys k where k.tenant_id = t.id and k.revoked_at is null) as active_keys
    from tenants t
    where ${opts.afterName === undefined ? sql`true` : sql`t.name > ${opts.afterName}`}
    order by t.name
    limit ${opts.limit}
  `;
}

export async function listApiKeys(sql: Db, tenantId: string): Promise<ApiKeyRow[]> {
  return sql<ApiKeyRow[]>`
    select id, tenant_id, name, prefix, created_at, last_used_at, revoked_at
    from api_keys
    where tenant_id = ${tenantId}
    order by created_at, id
  `;
}

/**
 * Revokes one of the tenant's keys (idempotent: a revoked key keeps its first
 * revocation time). Undefined when the tenant has no such key.
 */
export async function revokeApiKey(sql: Db, tenantId: string, keyId: string): Promise<ApiKeyRow | undefined> {
  const [row] = await sql<ApiKeyRow[]>`
    update api_keys
    set revoked_at = coalesce(revoked_at, now())
    where id = ${keyId}
      and tenant_id = ${tenantId}
    returning id, tenant_id, name, prefix, created_at, last_used_at, revoked_at
  `;
  return row;
}
