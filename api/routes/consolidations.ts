import { zValidator } from '@hono/zod-validator';
import { Hono } from 'hono';
import type { Sql } from '../../db/client.js';
import * as consolidations from '../../db/consolidations.js';
import { NotFoundError, UnavailableError, toError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import { consolidationWorkflowId } from '../../lib/names.js';
import { temporalUiLink, type TemporalDeps } from '../../temporal/batch-client.js';
import { startConsolidationWorkflow } from '../../temporal/consolidation-client.js';
import { claimPastOrphan, releaseIfOrphaned } from '../../temporal/orphaned-consolidation.js';
import type { AuthEnv } from '../auth.js';
import { consolidationIdParam, createConsolidationBody, listConsolidationsQuery } from '../consolidation-schemas.js';
import { consolidationView, decodeCursor, encodeCursor } from '../consolidation-views.js';
import { requireJson } from '../content-type.js';
import { validationHook } from '../problem.js';

export interface ConsolidationRouteDeps {
  sql: Sql;
  temporal: TemporalDeps;
  log: Logger;
}

export function consolidationRoutes({ sql, temporal, log }: ConsolidationRouteDeps) {
  /**
   * The row as ended now when it was active but its workflow has closed without ending
   * it (temporal/orphaned-consolidation.ts). A failed lookup leaves the row as it is: it
   * is checked again on the next read or claim.
   */
  const release = async (row: consolidations.ConsolidationRow) => {
    try {
      return await releaseIfOrphaned(temporal.client, sql, log, row);
    } catch (err) {
      log.warn({ err: toError(err), consolidationId: row.id }, 'could not look up the workflow of an active consolidation');
      return undefined;
    }
  };
  const live = async (row: consolidations.ConsolidationRow) => (await release(row)) ?? row;
  const view = (row: consolidations.ConsolidationRow) =>
    consolidationView(row, { temporalUi: row.workflowId ? temporalUiLink(temporal, row.workflowId) : null });

  return new Hono<AuthEnv>()
    .post('/', requireJson, zValidator('json', createConsolidationBody, validationHook('body')), async (c) => {
      const { scope = {} } = c.req.valid('json');
      const { tenantId, tenantName, keyId } = c.get('principal');
      const { row, created } = await claimPastOrphan(
        sql,
        { tenantId, triggerType: 'manual', triggeredBy: `api-key:${keyId}`, scope, workflowId: consolidationWorkflowId(tenantId) },
        release,
      );
      c.header('Location', `/v1/consolidations/${row.id}`);
      // One per tenant at a time: a request while one is active gets that one.
      if (!created) return c.json(view(row), 200);
      try {
        await startConsolidationWorkflow(temporal, { consolidationId: row.id, tenantId, triggerType: 'manual', tenantName });
      } catch (err) {
        log.error({ err: toError(err), consolidationId: row.id, requestId: c.get('requestId') }, 'could not start the consolidation workflow');
        await consolidations.deletePendingConsolidation(sql, row.id);
        if (err instanceof UnavailableError) throw err;
        throw new UnavailableError('Temporal did not accept the consolidation; nothing was stored. Try again shortly.');
      }
      log.info({ consolidationId: row.id, tenantId, requestId: c.get('requestId') }, 'consolidation started');
      return c.json(view(row), 202);
    })
    .get('/', zValidator('query', listConsolidationsQuery, validationHook('query')), async (c) => {
      const q = c.req.valid('query');
      const rows = await consolidations.listConsolidations(sql, c.get('principal').tenantId, {
        status: q.status,
        trigger: q.trigger,
        limit: q.limit,
        after: q.cursor === undefined ? undefined : decodeCursor(q.cursor),
      });
      // The tenant's one active row, if listed, as it really stands (an orphan ends failed
      // here, and leaves a `status=running` page); the cursor stays the page's last row.
      const items = (await Promise.all(rows.map(live))).filter((row) => q.status === undefined || row.status === q.status);
      const last = rows.at(-1);
      return c.json({ items: items.map(view), nextCursor: rows.length === q.limit && last ? encodeCursor(last) : null }, 200);
    })
    .get('/:id', zValidator('param', consolidationIdParam, validationHook('path')), async (c) => {
      const { id } = c.req.valid('param');
      const row = await consolidations.getConsolidation(sql, c.get('principal').tenantId, id);
      if (!row) throw new NotFoundError(`No consolidation ${id} for this tenant.`);
      return c.json(view(await live(row)), 200);
    });
}
