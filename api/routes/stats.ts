import { zValidator } from '@hono/zod-validator';
import { Hono } from 'hono';
import type { Sql } from '../../db/client.js';
import { listDailyStats } from '../../db/stats.js';
import type { AuthEnv } from '../auth.js';
import { statsQuery } from '../consolidation-schemas.js';
import { validationHook } from '../problem.js';

/** The roll-ups written by consolidations' `stats` phase, per job type and day (newest first). */
export function statsRoutes({ sql }: { sql: Sql }) {
  return new Hono<AuthEnv>().get('/', zValidator('query', statsQuery, validationHook('query')), async (c) => {
    const items = await listDailyStats(sql, c.get('principal').tenantId, c.req.valid('query'));
    return c.json({ items }, 200);
  });
}
