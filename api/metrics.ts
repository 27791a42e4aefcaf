/**
 * Prometheus metrics of one API app (its own registry: no global state, so tests can
 * build many apps): requests by route and status, latency, and batches by status read
 * from PostgreSQL at scrape time.
 */
import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Sql } from '../db/client.js';
import { countBatchesByStatus } from '../db/operations.js';
import { toError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';

export interface ApiMetrics {
  registry: Registry;
  middleware: MiddlewareHandler;
}

export function createApiMetrics({ sql, log }: { sql: Sql; log: Logger }): ApiMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'batchworks_api_' });
  const requests = new Counter({
    name: 'batchworks_http_requests_total',
    help: 'HTTP requests by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'batchworks_http_request_duration_seconds',
    help: 'HTTP request latency by method and route pattern',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  new Gauge({
    name: 'batchworks_batches',
    help: 'Batches by status, all tenants (from PostgreSQL at scrape time)',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      try {
        for (const [status, n] of Object.entries(await countBatchesByStatus(sql))) this.set({ status }, n);
      } catch (err) {
        // A scrape during a database outage still reports the request metrics.
        log.warn({ err: toError(err) }, 'could not count batches for /metrics');
      }
    },
  });

  const middleware: MiddlewareHandler = async (c, next) => {
    const started = performance.now();
    try {
      await next();
    } finally {
      // The route pattern, never the raw path: ids would make the label set unbounded.
      const route = routePath(c, -1) || 'unmatched';
      requests.inc({ method: c.req.method, route, status: String(c.res.status) });
      latency.observe({ method: c.req.method, route }, (performance.now() - started) / 1000);
    }
  };
  return { registry, middleware };
}
