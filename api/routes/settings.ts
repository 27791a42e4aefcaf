import { zValidator } from '@hono/zod-validator';
import { Hono } from 'hono';
import type { Sql } from '../../db/client.js';
import { getTenantSettings, updateTenantSettings } from '../../db/tenant-settings.js';
import type { AuthEnv } from '../auth.js';
import { patchSettingsBody } from '../consolidation-schemas.js';
import { requireJson } from '../content-type.js';
import { validationHook } from '../problem.js';

/** The tenant's own settings: consolidation threshold and retention (null: off). */
export function settingsRoutes({ sql }: { sql: Sql }) {
  return new Hono<AuthEnv>()
    .get('/', async (c) => c.json(await getTenantSettings(sql, c.get('principal').tenantId), 200))
    .patch('/', requireJson, zValidator('json', patchSettingsBody, validationHook('body')), async (c) => {
      const settings = await updateTenantSettings(sql, c.get('principal').tenantId, c.req.valid('json'));
      return c.json(settings, 200);
    });
}
