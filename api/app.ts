import { Hono } from 'hono';
import { requestId } from 'hono/request-id';
import type { Sql } from '../db/client.js';
import type { JobTypeRegistry } from '../job-types/registry.js';
import type { Logger } from '../lib/logger.js';
import type { TemporalDeps } from '../temporal/batch-client.js';
import { requireApiKey, type AuthEnv } from './auth.js';
import { guardBodies } from './body-guard.js';
import { rateLimitPerKey, type RateLimitOptions } from './rate-limit.js';
import { errorHandler, problemResponse } from './problem.js';
import { batchRoutes } from './routes/batches.js';
import { batchControlRoutes } from './routes/batch-control.js';
import { batchEventRoutes } from './routes/batch-events.js';
import { batchResultRoutes } from './routes/batch-results.js';
import { consolidationScheduleRoutes } from './routes/consolidation-schedules.js';
import { consolidationRoutes } from './routes/consolidations.js';
import { settingsRoutes } from './routes/settings.js';
import { statsRoutes } from './routes/stats.js';
import { clusterRoutes } from './routes/clusters.js';
import { healthRoutes } from './routes/health.js';
import { jobTypeRoutes } from './routes/job-types.js';
import { tenantRoutes } from './routes/tenants.js';
import { docsRoutes } from './routes/docs.js';
import { operationsRoutes } from './routes/operations.js';
import { createApiMetrics } from './metrics.js';
import { logFieldsOf } from './log-fields.js';

export interface AppDeps {
  sql: Sql;
  temporal: TemporalDeps;
  registry: JobTypeRegistry;
  log: Logger;
  /** ADMIN_TOKEN: the admin routes answer 503 without it. */
  adminToken?: string | undefined;
  /** Per API key; off when omitted (tests), set from config by api/server.ts. */
  rateLimit?: RateLimitOptions | undefined;
  /** Aborted when the process starts shutting down: long-lived responses (SSE) end so the server can close. */
  shutdown?: AbortSignal | undefined;
  /** TENANT_MAX_JOBS_IN_FLIGHT, shown as the effective cap of tenants without their own; the default when omitted. */
  tenantMaxJobsInFlight?: number | undefined;
}

export function createApp(deps: AppDeps) {
  const metrics = createApiMetrics(deps);
  const v1 = new Hono<AuthEnv>()
    .use(requireApiKey(deps.sql))
    .use(rateLimitPerKey(deps.rateLimit ?? { perSecond: 0, burst: 1 }))
    .route('/batches', batchRoutes(deps))
    .route('/batches', batchControlRoutes(deps))
    .route('/batches', batchResultRoutes(deps))
    .route('/batches', batchEventRoutes(deps))
    .route('/consolidations', consolidationRoutes(deps))
    .route('/consolidation-schedules', consolidationScheduleRoutes(deps))
    .route('/settings', settingsRoutes(deps))
    .route('/stats', statsRoutes(deps))

    .route('/batches', clusterRoutes(deps))
    .route('/job-types', jobTypeRoutes(deps));

  const app = new Hono<AuthEnv>()
    // Once shutting down, Node's server.close() still serves new requests on open keep-alive
    // connections, so it would wait forever on a busy client: ask clients to hang up instead.
    .use(async (c, next) => {
      await next();
      if (deps.shutdown?.aborted) c.header('Connection', 'close');
    })
    .use(requestId())
    .use(metrics.middleware)
    .use(async (c, next) => {
      const started = performance.now();
      await next();
      deps.log.info(
        {
          requestId: c.get('requestId'),
          method: c.req.method,
          path: c.req.path,
          status: c.res.status,
          ms: Math.round(performance.now() - started),
          tenantId: c.get('principal')?.tenantId,
          ...logFieldsOf(c),
        },
        'request',
      );
    })
    .use(guardBodies)
    .route('/', healthRoutes())
    .route('/', docsRoutes())
    .route('/', operationsRoutes({ ...deps, metrics }))
    // Before /v1: the admin routes take the admin token, not an API key.
    .route('/v1/tenants', tenantRoutes(deps))
    .route('/v1', v1);

  app.onError(errorHandler(deps.log));
  app.notFound((c) =>
    problemResponse(c, { title: 'Not found', status: 404, detail: `No route for ${c.req.method} ${c.req.path}.` }),
  );
  return app;
}

export type AppType = ReturnType<typeof createApp>;
