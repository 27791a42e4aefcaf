import { zValidator } from '@hono/zod-validator';
import { Hono } from 'hono';
import type { Sql } from '../../db/client.js';
import { DEFAULT_TENANT_MAX_JOBS_IN_FLIGHT } from '../../config.js';
import { getMaxJobsInFlight, getTenantSettings, updateTenantSettings } from '../../db/tenant-settings.js';
import type { AuthEnv } from '../auth.js';
import { patchSettingsBody } from '../consolidation-schemas.js';
import { requireJson } from '../content-type.js';
import { validationHook } from '../problem.js';

/**
 * The tenant's own settings: consolidation threshold and retention (null: off); and,
 * read-only, its cap on jobs in flight across all its batches (operators set it).
 */
export function settingsRoutes({ sql, tenantMaxJobsInFlight = DEFAULT_TENANT_MAX_JOBS_IN_FLIGHT }: { sql: Sql; tenantMaxJobsInFlight?: number | undefined }) {
  const cap = async (tenantId: string) => ({ maxJobsInFlight: (await getMaxJobsInFlight(sql, tenantId)) ?? tenantMaxJobsInFlight });
  return new Hono<AuthEnv>()
    .get('/', async (c) => {
      const tenantId = c.get('principal').tenantId;
      const [settings, max] = await Promise.all([getTenantSettings(sql, tenantId), cap(tenantId)]);
      return c.json({ ...settings, ...max }, 200);
    })
    .patch('/', requireJson, zValidator('json', patchSettingsBody, validationHook('body')), async (c) => {
      const tenantId = c.get('principal').tenantId;
      const settings = await updateTenantSettings(sql, tenantId, c.req.valid('json'));
      return c.json({ ...settings, ...(await cap(tenantId)) }, 200);
    });
}
