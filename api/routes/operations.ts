import { Hono } from 'hono';
import type { Sql } from '../../db/client.js';
import { ping } from '../../db/operations.js';
import { withDeadline } from '../../lib/deadline.js';
import { toError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import type { TemporalDeps } from '../../temporal/batch-client.js';
import type { ApiMetrics } from '../metrics.js';
import { problemResponse } from '../problem.js';

const CHECK_TIMEOUT_MS = 2_000;

async function check(name: string, probe: () => Promise<unknown>): Promise<{ name: string; ok: boolean; error?: string }> {
  try {
    await withDeadline(probe(), CHECK_TIMEOUT_MS, () => new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`));
    return { name, ok: true };
  } catch (err) {
    return { name, ok: false, error: toError(err).message };
  }
}

/** GET /readyz (PostgreSQL and Temporal answer, else 503) and GET /metrics (Prometheus). */
export function operationsRoutes(deps: { sql: Sql; temporal: TemporalDeps; log: Logger; metrics: ApiMetrics }) {
  return new Hono()
    .get('/readyz', async (c) => {
      const checks = await Promise.all([
        check('postgres', () => ping(deps.sql)),
        // A deadline, so the client's own retries stop with the check.
        check('temporal', () =>
          deps.temporal.client.connection.withDeadline(Date.now() + CHECK_TIMEOUT_MS, () => deps.temporal.client.workflowService.getSystemInfo({})),
        ),
      ]);
      const failed = checks.filter((x) => !x.ok);
      if (failed.length === 0) return c.json({ status: 'ready', checks: Object.fromEntries(checks.map((x) => [x.name, 'ok'])) }, 200);
      deps.log.warn({ failed }, 'not ready');
      return problemResponse(c, {
        title: 'Service unavailable',
        status: 503,
        detail: `Not ready: ${failed.map((x) => `${x.name} (${x.error})`).join('; ')}.`,
      });
    })
    .get('/metrics', async (c) =>
      c.body(await deps.metrics.registry.metrics(), 200, { 'Content-Type': deps.metrics.registry.contentType }),
    );
}
