/**
 * GET /v1/batches/:id/events — Server-Sent Events. Polls the batch row (one indexed
 * read) every POLL_MS and pushes a `progress` event whenever status, pause or
 * counters change, with an ETA from the rate observed on this stream; the last event
 * is `end`, at the terminal status, and the stream closes. A client that disconnects
 * stops the loop at its next wake-up (no timers are left behind). When the API shuts
 * down the stream ends without `end`: the client reconnects (to this or another API
 * process) and is sent the current state again.
 */
import { zValidator } from '@hono/zod-validator';
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { getBatch, type BatchRow } from '../../db/batches.js';
import type { Sql } from '../../db/client.js';
import { NotFoundError, toError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import { TERMINAL_BATCH_STATUSES } from '../../lib/names.js';
import type { AuthEnv } from '../auth.js';
import { validationHook } from '../problem.js';
import { countersAndProgress } from '../views.js';
import { batchIdParam } from '../schemas.js';

const POLL_MS = 500;
/** A comment line this often keeps proxies from closing a quiet stream. */
const KEEP_ALIVE_MS = 15_000;

interface Sample {
  at: number;
  processed: number;
}

/** Jobs per second since the first sample of this stream, and the seconds left at that rate (null until there is a rate). */
function rateOf(first: Sample | undefined, now: Sample, remaining: number): { jobsPerSecond: number | null; etaSeconds: number | null } {
  if (!first || now.at <= first.at || now.processed <= first.processed) return { jobsPerSecond: null, etaSeconds: remaining === 0 ? 0 : null };
  const perMs = (now.processed - first.processed) / (now.at - first.at);
  return { jobsPerSecond: Math.round(perMs * 1_000_000) / 1_000, etaSeconds: Math.ceil(remaining / perMs / 1_000) };
}

export function progressEvent(row: BatchRow, rate: { jobsPerSecond: number | null; etaSeconds: number | null }) {
  return {
    id: row.id,
    status: row.status,
    paused: row.pausedAt !== null,
    ...countersAndProgress(row),
    ...rate,
  };
}

export function batchEventRoutes({ sql, log, shutdown }: { sql: Sql; log: Logger; shutdown?: AbortSignal | undefined }) {
  return new Hono<AuthEnv>().get('/:id/events', zValidator('param', batchIdParam, validationHook('path')), async (c) => {
    const { id } = c.req.valid('param');
    const { tenantId } = c.get('principal');
    if (!(await getBatch(sql, tenantId, id))) throw new NotFoundError(`No batch ${id} for this tenant.`);
    return streamSSE(
      c,
      async (s) => {
        let first: Sample | undefined;
        let last = '';
        let sentAt = Date.now();
        let seq = 0;
        while (!s.aborted && !shutdown?.aborted) {
          const row = await getBatch(sql, tenantId, id);
          if (!row) {
            await s.writeSSE({ event: 'deleted', id: String(seq++), data: JSON.stringify({ id }) });
            return;
          }
          const processed = row.succeededJobs + row.failedJobs + row.cancelledJobs;
          const now = { at: Date.now(), processed };
          // Counters drop after a redrive: the rate starts again from there.
          if (row.status === 'running' && (!first || processed < first.processed)) first = now;
          const terminal = TERMINAL_BATCH_STATUSES.includes(row.status);
          const key = JSON.stringify([row.status, row.pausedAt, processed, row.failedJobs, row.cancelledJobs]);
          if (key !== last || terminal) {
            const event = progressEvent(row, rateOf(first, now, row.totalJobs - processed));
            await s.writeSSE({ event: terminal ? 'end' : 'progress', id: String(seq++), data: JSON.stringify(event) });
            last = key;
            sentAt = now.at;
          } else if (now.at - sentAt >= KEEP_ALIVE_MS) {
            await s.write(': keep-alive\n\n');
            sentAt = now.at;
          }
          if (terminal) return;
          await s.sleep(POLL_MS);
        }
      },
      async (err) => log.error({ err: toError(err), batchId: id, requestId: c.get('requestId') }, 'event stream failed'),
    );
  });
}
