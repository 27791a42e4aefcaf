import { zValidator } from '@hono/zod-validator';
import { Hono } from 'hono';
import type { Sql } from '../../db/client.js';
import * as schedules from '../../db/consolidation-schedules.js';
import { NotFoundError } from '../../lib/errors.js';
import { consolidationScheduleId } from '../../lib/names.js';
import type { TemporalDeps } from '../../temporal/batch-client.js';
import {
  backfillConsolidationSchedule,
  deleteConsolidationSchedule,
  describeConsolidationSchedule,
  triggerConsolidationSchedule,
  upsertConsolidationSchedule,
} from '../../temporal/consolidation-client.js';
import type { AuthEnv } from '../auth.js';
import { backfillBody, putScheduleBody, scheduleNameParam } from '../consolidation-schemas.js';
import { scheduleView } from '../consolidation-views.js';
import { requireJson } from '../content-type.js';
import { validationHook } from '../problem.js';

export interface ScheduleRouteDeps {
  sql: Sql;
  temporal: TemporalDeps;
}

/**
 * A tenant's consolidation schedules. The row is the tenant's record (and what makes
 * another tenant's schedule a 404); the Temporal Schedule, id
 * `consolidation-<tenantId>-<name>`, does the timing.
 */
export function consolidationScheduleRoutes({ sql, temporal }: ScheduleRouteDeps) {
  const find = async (tenantId: string, name: string) => {
    const row = await schedules.getSchedule(sql, tenantId, name);
    if (!row) throw new NotFoundError(`No consolidation schedule '${name}' for this tenant; create it with PUT.`);
    return row;
  };
  const withRuntime = async (row: schedules.ScheduleRow) =>
    scheduleView(row, await describeConsolidationSchedule(temporal, row.scheduleId));

  return new Hono<AuthEnv>()
    .put(
      '/:name',
      requireJson,
      zValidator('param', scheduleNameParam, validationHook('path')),
      zValidator('json', putScheduleBody, validationHook('body')),
      async (c) => {
        const { name } = c.req.valid('param');
        const body = c.req.valid('json');
        const { tenantId, tenantName, keyId } = c.get('principal');
        const input = { tenantId, name, cron: body.cron, timezone: body.timezone, scope: body.scope ?? {}, paused: body.paused };
        // The row commits only if Temporal took the schedule, so the two never disagree for long.
        const { row, created } = await sql.begin(async (tx) => {
          const saved = await schedules.upsertSchedule(tx, { ...input, scheduleId: consolidationScheduleId(tenantId, name), createdBy: keyId });
          await upsertConsolidationSchedule(temporal, { ...input, tenantName });
          return saved;
        });
        c.header('Location', `/v1/consolidation-schedules/${name}`);
        return c.json(await withRuntime(row), created ? 201 : 200);
      },
    )
    .get('/', async (c) => {
      const rows = await schedules.listSchedules(sql, c.get('principal').tenantId);
      return c.json({ items: await Promise.all(rows.map(withRuntime)) }, 200);
    })
    .get('/:name', zValidator('param', scheduleNameParam, validationHook('path')), async (c) => {
      const row = await find(c.get('principal').tenantId, c.req.valid('param').name);
      return c.json(await withRuntime(row), 200);
    })
    .delete('/:name', zValidator('param', scheduleNameParam, validationHook('path')), async (c) => {
      const { tenantId } = c.get('principal');
      const row = await find(tenantId, c.req.valid('param').name);
      await deleteConsolidationSchedule(temporal, row.scheduleId);
      await schedules.deleteSchedule(sql, tenantId, row.name);
      return c.body(null, 204);
    })
    .post('/:name/trigger', zValidator('param', scheduleNameParam, validationHook('path')), async (c) => {
      const row = await find(c.get('principal').tenantId, c.req.valid('param').name);
      await triggerConsolidationSchedule(temporal, row.scheduleId);
      return c.json({ triggered: true, schedule: row.name, links: { consolidations: '/v1/consolidations?trigger=scheduled' } }, 202);
    })
    .post(
      '/:name/backfill',
      requireJson,
      zValidator('param', scheduleNameParam, validationHook('path')),
      zValidator('json', backfillBody, validationHook('body')),
      async (c) => {
        const row = await find(c.get('principal').tenantId, c.req.valid('param').name);
        const { start, end } = c.req.valid('json');
        await backfillConsolidationSchedule(temporal, row.scheduleId, new Date(start), new Date(end));
        return c.json({ backfilling: true, schedule: row.name, start, end }, 202);
      },
    );
}
