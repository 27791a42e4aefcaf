import { zValidator } from '@hono/zod-validator';
import { Hono } from 'hono';
import type { Sql } from '../../db/client.js';
import { getTenant, listApiKeys, listTenants, revokeApiKey, type ApiKeyRow } from '../../db/tenant-admin.js';
import { getJobTenantSettings, setHttpAllowHosts, setMaxJobsInFlight } from '../../db/tenant-settings.js';
import { getSlotState } from '../../db/tenant-slots.js';
import { DEFAULT_TENANT_MAX_JOBS_IN_FLIGHT } from '../../config.js';
import { insertApiKey, insertTenant } from '../../db/tenants.js';
import { NotFoundError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import { requireAdminToken } from '../admin-auth.js';
import { requireJson } from '../content-type.js';
import { validationHook } from '../problem.js';
import { allowHostsBody, createKeyBody, createTenantBody, listTenantsQuery, patchTenantBody, tenantIdParam, tenantKeyParam } from '../tenant-schemas.js';

export interface TenantRouteDeps {
  sql: Sql;
  log: Logger;
  adminToken?: string | undefined;
  /** TENANT_MAX_JOBS_IN_FLIGHT: the cap of tenants without their own. */
  tenantMaxJobsInFlight?: number | undefined;
}

const keyView = (k: ApiKeyRow) => ({
  id: k.id,
  name: k.name,
  prefix: k.prefix,
  createdAt: k.createdAt.toISOString(),
  lastUsedAt: k.lastUsedAt?.toISOString() ?? null,
  revokedAt: k.revokedAt?.toISOString() ?? null,
});

/**
 * Operator routes, behind ADMIN_TOKEN (not an API key: a tenant's key must never
 * mint keys or widen its own http.request allow-list). A key's secret is in the
 * answer that creates it and nowhere else; only its SHA-256 is stored.
 */
export function tenantRoutes({ sql, log, adminToken, tenantMaxJobsInFlight = DEFAULT_TENANT_MAX_JOBS_IN_FLIGHT }: TenantRouteDeps) {
  /** The tenant's own cap (null: the default), the cap in force, and the slots held now (running chunks, workers' pools for per-activity attempts). */
  const capView = async (tenantId: string) => {
    const s = await getSlotState(sql, tenantId);
    return { maxJobsInFlight: s.maxJobsInFlight, effectiveMaxJobsInFlight: s.maxJobsInFlight ?? tenantMaxJobsInFlight, jobsInFlight: s.used };
  };
  const find = async (id: string) => {
    const tenant = await getTenant(sql, id);
    if (!tenant) throw new NotFoundError(`No tenant ${id}; list them with GET /v1/tenants.`);
    return tenant;
  };

  return new Hono()
    .use(requireAdminToken(adminToken))
    .post('/', requireJson, zValidator('json', createTenantBody, validationHook('body')), async (c) => {
      const body = c.req.valid('json');
      const created = await sql.begin(async (tx) => {
        const tenant = await insertTenant(tx, body.name);
        const key = await insertApiKey(tx, tenant.id, body.keyName);
        const settings = await setHttpAllowHosts(tx, tenant.id, body.httpAllowHosts ?? []);
        return { tenant, key, settings };
      });
      log.info({ tenantId: created.tenant.id, keyId: created.key.id, keyPrefix: created.key.prefix }, 'tenant created');
      c.header('Location', `/v1/tenants/${created.tenant.id}`);
      return c.json(
        {
          id: created.tenant.id,
          name: created.tenant.name,
          createdAt: created.tenant.createdAt.toISOString(),
          httpAllowHosts: created.settings.httpAllowHosts,
          apiKey: { id: created.key.id, name: body.keyName, prefix: created.key.prefix, key: created.key.key },
        },
        201,
      );
    })
    .get('/', zValidator('query', listTenantsQuery, validationHook('query')), async (c) => {
      const q = c.req.valid('query');
      const rows = await listTenants(sql, { afterName: q.cursor, limit: q.limit });
      const last = rows.at(-1);
      return c.json(
        {
          items: rows.map((t) => ({ id: t.id, name: t.name, createdAt: t.createdAt.toISOString(), activeKeys: t.activeKeys })),
          nextCursor: rows.length === q.limit && last ? last.name : null,
        },
        200,
      );
    })
    .get('/:id', zValidator('param', tenantIdParam, validationHook('path')), async (c) => {
      const tenant = await find(c.req.valid('param').id);
      const [keys, settings, cap] = await Promise.all([listApiKeys(sql, tenant.id), getJobTenantSettings(sql, tenant.id), capView(tenant.id)]);
      return c.json(
        { id: tenant.id, name: tenant.name, createdAt: tenant.createdAt.toISOString(), httpAllowHosts: settings.httpAllowHosts, ...cap, keys: keys.map(keyView) },
        200,
      );
    })
    .patch(
      '/:id',
      requireJson,
      zValidator('param', tenantIdParam, validationHook('path')),
      zValidator('json', patchTenantBody, validationHook('body')),
      async (c) => {
        const tenant = await find(c.req.valid('param').id);
        const value = await setMaxJobsInFlight(sql, tenant.id, c.req.valid('json').maxJobsInFlight);
        log.info({ tenantId: tenant.id, maxJobsInFlight: value }, 'tenant cap on jobs in flight set');
        // Running chunks and attempts keep the slots they hold; new grants follow the new cap.
        return c.json({ tenantId: tenant.id, ...(await capView(tenant.id)) }, 200);
      },
    )
    .post(
      '/:id/keys',
      requireJson,
      zValidator('param', tenantIdParam, validationHook('path')),
      zValidator('json', createKeyBody, validationHook('body')),
      async (c) => {
        const tenant = await find(c.req.valid('param').id);
        const { name } = c.req.valid('json');
        const key = await insertApiKey(sql, tenant.id, name);
        log.info({ tenantId: tenant.id, keyId: key.id, keyPrefix: key.prefix }, 'api key created');
        c.header('Location', `/v1/tenants/${tenant.id}`);
        return c.json({ id: key.id, name, prefix: key.prefix, key: key.key, tenantId: tenant.id }, 201);
      },
    )
    .delete('/:id/keys/:keyId', zValidator('param', tenantKeyParam, validationHook('path')), async (c) => {
      const { id, keyId } = c.req.valid('param');
      // Keys are looked up in the database on every request (no cache), so this takes effect at once.
      const row = await revokeApiKey(sql, id, keyId);
      if (!row) throw new NotFoundError(`Tenant ${id} has no API key ${keyId}.`);
      log.info({ tenantId: id, keyId, keyPrefix: row.prefix }, 'api key revoked');
      return c.body(null, 204);
    })
    .put(
      '/:id/http-allow-hosts',
      requireJson,
      zValidator('param', tenantIdParam, validationHook('path')),
      zValidator('json', allowHostsBody, validationHook('body')),
      async (c) => {
        const tenant = await find(c.req.valid('param').id);
        const settings = await setHttpAllowHosts(sql, tenant.id, c.req.valid('json').hosts);
        log.info({ tenantId: tenant.id, hosts: settings.httpAllowHosts }, 'http allow-list set');
        return c.json({ tenantId: tenant.id, httpAllowHosts: settings.httpAllowHosts }, 200);
      },
    );
}
