/**
 * Batch control (issue 4): list, delete, cancel, pause, resume, live concurrency and
 * redrive. Every route acts on the caller's tenant's batches only (another tenant's
 * id is a 404); a batch in the wrong state for the action is a 409.
 */
import { zValidator } from '@hono/zod-validator';
import { Hono } from 'hono';
import { redriveBatch, undoRedrive } from '../../db/batch-control.js';
import { deleteFinishedBatch, listBatches, type BatchKey } from '../../db/batch-list.js';
import * as batches from '../../db/batches.js';
import type { Sql } from '../../db/client.js';
import { ConflictError, InvalidInputError, NotFoundError, UnavailableError, toError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import { TERMINAL_BATCH_STATUSES } from '../../lib/names.js';
import { temporalUiLink, type TemporalDeps } from '../../temporal/batch-client.js';
import {
  cancelBatchWorkflow,
  controlBatchWorkflow,
  redriveBatchWorkflow,
  type ControlAction,
} from '../../temporal/batch-control-client.js';
import type { AuthEnv } from '../auth.js';
import { validationHook } from '../problem.js';
import { batchIdParam, listBatchesQuery, patchBatchBody, retryBody } from '../schemas.js';
import { batchView } from '../views.js';

export interface BatchControlDeps {
  sql: Sql;
  temporal: TemporalDeps;
  log: Logger;
}

/** Opaque to clients: base64url of the last row's exact position. */
const encodeCursor = (k: BatchKey) => Buffer.from(JSON.stringify([k.createdUs, k.id])).toString('base64url');
function decodeCursor(cursor: string): BatchKey {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(v) && typeof v[0] === 'string' && /^\d{1,19}$/.test(v[0]) && typeof v[1] === 'string' && /^[0-9a-f-]{36}$/.test(v[1])) {
      return { createdUs: v[0], id: v[1] };
    }
  } catch {
    // Falls through to the 400 below.
  }
  throw new InvalidInputError('The cursor is not valid; pass the nextCursor value of the previous page unchanged.', [
    { path: 'query.cursor', message: 'use the nextCursor value of the previous page' },
  ]);
}

const isFinished = (row: batches.BatchRow) => TERMINAL_BATCH_STATUSES.includes(row.status);

export function batchControlRoutes({ sql, temporal, log }: BatchControlDeps) {
  const view = (row: batches.BatchRow) =>
    batchView(row, {
      self: `/v1/batches/${row.id}`,
      jobs: `/v1/batches/${row.id}/jobs`,
      temporalUi: temporalUiLink(temporal, row.workflowId),
    });
  const find = async (tenantId: string, id: string) => {
    const row = await batches.getBatch(sql, tenantId, id);
    if (!row) throw new NotFoundError(`No batch ${id} for this tenant.`);
    return row;
  };
  const reread = async (row: batches.BatchRow) => (await batches.getBatch(sql, row.tenantId, row.id)) ?? row;

  /** Pause, resume or concurrency: applied by the running workflow, which records it on the row before answering. */
  const control = async (tenantId: string, id: string, action: ControlAction) => {
    const row = await find(tenantId, id);
    if (isFinished(row)) throw new ConflictError(`Batch ${id} has ended (${row.status}); only a running batch can be paused, resumed or changed.`);
    await controlBatchWorkflow(temporal, row.workflowId, action);
    return view(await reread(row));
  };
  const param = zValidator('param', batchIdParam, validationHook('path'));

  return new Hono<AuthEnv>()
    .get('/', zValidator('query', listBatchesQuery, validationHook('query')), async (c) => {
      const q = c.req.valid('query');
      const page = await listBatches(sql, c.get('principal').tenantId, {
        status: q.status,
        jobType: q.type,
        limit: q.limit,
        after: q.cursor === undefined ? undefined : decodeCursor(q.cursor),
      });
      return c.json({ items: page.rows.map(view), nextCursor: page.next ? encodeCursor(page.next) : null }, 200);
    })
    .delete('/:id', param, async (c) => {
      const { id } = c.req.valid('param');
      const result = await deleteFinishedBatch(sql, c.get('principal').tenantId, id);
      if (result.ok) return c.body(null, 204);
      if (result.reason === 'not-found') throw new NotFoundError(`No batch ${id} for this tenant.`);
      throw new ConflictError(`Batch ${id} is ${result.batch?.status ?? 'running'}; cancel it (POST /v1/batches/${id}/cancel) and delete it once it has ended.`);
    })
    .post('/:id/cancel', param, async (c) => {
      const { id } = c.req.valid('param');
      const row = await find(c.get('principal').tenantId, id);
      // Idempotent: a batch already cancelled answers as it is.
      if (row.status === 'cancelled') return c.json(view(row), 200);
      if (isFinished(row)) throw new ConflictError(`Batch ${id} has ended (${row.status}); there is nothing to cancel.`);
      // Running attempts see the cancel through their heartbeats; the workflow then ends every unfinished job cancelled.
      if (!(await cancelBatchWorkflow(temporal, row.workflowId))) await batches.cancelBatch(sql, id, row.redrives);
      c.header('Location', `/v1/batches/${id}`);
      return c.json(view(await reread(row)), 202);
    })
    .post('/:id/pause', param, async (c) => c.json(await control(c.get('principal').tenantId, c.req.valid('param').id, { kind: 'pause' }), 200))
    .post('/:id/resume', param, async (c) => c.json(await control(c.get('principal').tenantId, c.req.valid('param').id, { kind: 'resume' }), 200))
    .patch('/:id', param, zValidator('json', patchBatchBody, validationHook('body')), async (c) => {
      const { concurrency } = c.req.valid('json');
      return c.json(await control(c.get('principal').tenantId, c.req.valid('param').id, { kind: 'concurrency', concurrency }), 200);
    })
    .post('/:id/retry', param, zValidator('json', retryBody, validationHook('body')), async (c) => {
      const { id } = c.req.valid('param');
      const { errorType } = c.req.valid('json');
      const { tenantId, tenantName } = c.get('principal');
      const result = await redriveBatch(sql, tenantId, id, errorType);
      if (!result.ok) {
        if (result.reason === 'not-found') throw new NotFoundError(`No batch ${id} for this tenant.`);
        if (result.reason === 'not-finished') throw new ConflictError(`Batch ${id} is still ${result.batch?.status}; retry its failed jobs once it has ended.`);
        throw new ConflictError(`Batch ${id} has no failed jobs${errorType ? ` with error type '${errorType}'` : ''} to retry.`);
      }
      try {
        await redriveBatchWorkflow(temporal, result.batch, tenantName);
      } catch (err) {
        log.error({ err: toError(err), batchId: id, requestId: c.get('requestId') }, 'could not start the redrive run');
        await undoRedrive(sql, id);
        throw new UnavailableError('Temporal did not accept the retry; the batch is as it was. Try again shortly.');
      }
      log.info({ batchId: id, tenantId, jobs: result.jobs, errorType, requestId: c.get('requestId') }, 'batch redriven');
      c.header('Location', `/v1/batches/${id}`);
      return c.json({ ...view(result.batch), retried: result.jobs }, 202);
    });
}
