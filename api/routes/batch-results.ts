/**
 * GET /v1/batches/:id/results — every job's index, id, status, attempts, input,
 * output and last error, streamed as NDJSON (default) or CSV (`Accept: text/csv` or
 * `?format=csv`). Keyset pages of PAGE_SIZE rows go straight to the response, so
 * memory stays one page whatever the batch's size, and a client that disconnects
 * stops the reading.
 */
import { zValidator } from '@hono/zod-validator';
import { Hono } from 'hono';
import { stream } from 'hono/streaming';
import { getBatch } from '../../db/batches.js';
import type { Sql } from '../../db/client.js';
import { resultPage, type ResultRow } from '../../db/job-results.js';
import { csvRow } from '../../lib/csv.js';
import { NotFoundError, toError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import type { AuthEnv } from '../auth.js';
import { validationHook } from '../problem.js';
import { batchIdParam, resultsQuery } from '../schemas.js';

const PAGE_SIZE = 1_000;

export const CSV_HEADER = ['index', 'id', 'status', 'attempts', 'input', 'output', 'error_type', 'error_message'] as const;

const json = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v));

function ndjsonLine(r: ResultRow): string {
  const lastError = r.errorType ? { type: r.errorType, message: r.errorMessage } : null;
  return `${JSON.stringify({ index: r.seq, id: r.id, status: r.status, attempts: r.attempts, input: r.input, output: r.output ?? null, lastError })}\n`;
}

const csvLine = (r: ResultRow) => csvRow([r.seq, r.id, r.status, r.attempts, json(r.input), json(r.output), r.errorType, r.errorMessage]);

/** CSV only when asked for: `?format=csv`, or an Accept header naming text/csv before any NDJSON/JSON type. */
function wantsCsv(format: 'ndjson' | 'csv' | undefined, accept: string | undefined): boolean {
  if (format) return format === 'csv';
  const types = (accept ?? '').split(',').map((t) => t.split(';')[0]!.trim().toLowerCase());
  const csv = types.indexOf('text/csv');
  if (csv === -1) return false;
  const other = types.findIndex((t) => t === 'application/x-ndjson' || t === 'application/json');
  return other === -1 || csv < other;
}

export function batchResultRoutes({ sql, log }: { sql: Sql; log: Logger }) {
  return new Hono<AuthEnv>().get(
    '/:id/results',
    zValidator('param', batchIdParam, validationHook('path')),
    zValidator('query', resultsQuery, validationHook('query')),
    async (c) => {
      const { id } = c.req.valid('param');
      const row = await getBatch(sql, c.get('principal').tenantId, id);
      if (!row) throw new NotFoundError(`No batch ${id} for this tenant.`);
      const csv = wantsCsv(c.req.valid('query').format, c.req.header('Accept'));
      c.header('Content-Type', csv ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8');
      c.header('Content-Disposition', `attachment; filename="batch-${id}-results.${csv ? 'csv' : 'ndjson'}"`);
      return stream(
        c,
        async (s) => {
          if (csv) await s.write(csvRow(CSV_HEADER));
          let afterSeq = -1;
          while (!s.aborted) {
            const page = await resultPage(sql, id, afterSeq, PAGE_SIZE);
            if (page.length > 0) await s.write(page.map(csv ? csvLine : ndjsonLine).join(''));
            if (page.length < PAGE_SIZE) break;
            afterSeq = page.at(-1)!.seq;
          }
        },
        // The status line is sent already: all that is left is to log and cut the stream short.
        async (err) => log.error({ err: toError(err), batchId: id, requestId: c.get('requestId') }, 'results stream failed'),
      );
    },
  );
}
