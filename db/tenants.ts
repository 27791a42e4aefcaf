import { createHash, randomBytes } from 'node:crypto';
import { ConflictError } from '../lib/errors.js';
import type { Db } from './client.js';
import { hasSqlState, SqlState } from './pg-errors.js';

export interface Tenant {
  id: string;
  name: string;
  createdAt: Date;
}

export interface ApiKeyPrincipal {
  keyId: string;
  tenantId: string;
  tenantName: string;
}

export interface CreatedApiKey {
  id: string;
  prefix: string;
  /** The only time the full key exists outside the caller's hands. */
  key: string;
}

export const hashApiKey = (key: string): Buffer => createHash('sha256').update(key).digest();

/** `bw_<8 hex prefix>_<43 chars of base64url>`: 256 random bits, the prefix is public. */
export function generateApiKey(): { key: string; prefix: string } {
  const prefix = `bw_${randomBytes(4).toString('hex')}`;
  return { key: `${prefix}_${randomBytes(32).toString('base64url')}`, prefix };
}

export async function insertTenant(sql: Db, name: string): Promise<Tenant> {
  try {
    const [tenant] = await sql<Tenant[]>`
      insert into tenants (name)
      values (${name})
      returning id, name, created_at
    `;
    return tenant!;
  } catch (err) {
    if (hasSqlState(err, SqlState.UniqueViolation)) {
      throw new ConflictError(`A tenant named '${name}' exists already; pick another name.`);
    }
    throw err;
  }
}

export async function findTenantByName(sql: Db, name: string): Promise<Tenant | undefined> {
  const [tenant] = await sql<Tenant[]>`
    select id, name, created_at
    from tenants
    where name = ${name}
  `;
  return tenant;
}

export async function insertApiKey(sql: Db, tenantId: string, name = 'default'): Promise<CreatedApiKey> {
  const { key, prefix } = generateApiKey();
  const [row] = await sql<{ id: string }[]>`
    insert into api_keys (tenant_id, name, prefix, key_hash)
    values (${tenantId}, ${name}, ${prefix}, ${hashApiKey(key)})
    returning id
  `;
  return { id: row!.id, prefix, key };
}

/** The tenant a key belongs to, if the key exists and is not revoked. */
export async function findPrincipalByKey(sql: Db, key: string): Promise<ApiKeyPrincipal | undefined> {
  const [row] = await sql<ApiKeyPrincipal[]>`
    select k.id as key_id, t.id as tenant_id, t.name as tenant_name
    from api_keys k
    join tenants t on t.id = k.tenant_id
    where k.key_hash = ${hashApiKey(key)}
      and k.revoked_at is null
  `;
  return row;
}
