/**
 * Every route the API serves, with the zod schemas its validators use. The OpenAPI
 * document (api/openapi.ts) is generated from this list, and test/api/openapi.test.ts
 * checks it against `app.routes`, so a route added without an entry fails the build.
 */
import { z } from 'zod';
import { listClustersQuery } from './routes/clusters.js';
import { backfillBody, consolidationIdParam, createConsolidationBody, listConsolidationsQuery, patchSettingsBody, putScheduleBody, scheduleNameParam, statsQuery } from './consolidation-schemas.js';
import { batchIdParam, createBatchBody, ingestQuery, listBatchesQuery, listJobsQuery, patchBatchBody, resultsQuery, retryBody } from './schemas.js';
import { allowHostsBody, createKeyBody, createTenantBody, listTenantsQuery, patchTenantBody, tenantIdParam, tenantKeyParam } from './tenant-schemas.js';

export type Auth = 'apiKey' | 'admin' | 'none';
type ObjectSchema = z.ZodObject;

export interface RouteSpec {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** Hono syntax (`:id`); turned into `{id}` in the document. */
  path: string;
  summary: string;
  tag: string;
  auth: Auth;
  params?: ObjectSchema;
  query?: ObjectSchema;
  body?: z.ZodType;
  /** Extra request media types beside application/json. */
  ndjsonQuery?: ObjectSchema;
  /** Success status and its description. */
  success: [number, string];
}

const scheduleSpecs: RouteSpec[] = [
  { method: 'put', path: '/v1/consolidation-schedules/:name', summary: 'Create or update a consolidation schedule', tag: 'consolidation', auth: 'apiKey', params: scheduleNameParam, body: putScheduleBody, success: [200, 'Updated (201 when created)'] },
  { method: 'get', path: '/v1/consolidation-schedules', summary: "The tenant's consolidation schedules", tag: 'consolidation', auth: 'apiKey', success: [200, 'Schedules with next and recent runs'] },
  { method: 'get', path: '/v1/consolidation-schedules/:name', summary: 'One consolidation schedule', tag: 'consolidation', auth: 'apiKey', params: scheduleNameParam, success: [200, 'The schedule'] },
  { method: 'delete', path: '/v1/consolidation-schedules/:name', summary: 'Delete a consolidation schedule', tag: 'consolidation', auth: 'apiKey', params: scheduleNameParam, success: [204, 'Deleted'] },
  { method: 'post', path: '/v1/consolidation-schedules/:name/trigger', summary: 'Run a schedule once now', tag: 'consolidation', auth: 'apiKey', params: scheduleNameParam, success: [202, 'Triggered'] },
  { method: 'post', path: '/v1/consolidation-schedules/:name/backfill', summary: 'Run the periods missed between start and end', tag: 'consolidation', auth: 'apiKey', params: scheduleNameParam, body: backfillBody, success: [202, 'Backfilling'] },
];

export const ROUTE_SPECS: readonly RouteSpec[] = [
  { method: 'get', path: '/healthz', summary: 'Liveness', tag: 'operations', auth: 'none', success: [200, 'The process answers'] },
  { method: 'get', path: '/readyz', summary: 'Readiness: PostgreSQL and Temporal reachable', tag: 'operations', auth: 'none', success: [200, 'Ready (503 otherwise)'] },
  { method: 'get', path: '/metrics', summary: 'Prometheus metrics', tag: 'operations', auth: 'none', success: [200, 'Text exposition format'] },
  { method: 'get', path: '/openapi.json', summary: 'This document', tag: 'operations', auth: 'none', success: [200, 'OpenAPI 3.1'] },
  { method: 'get', path: '/docs', summary: 'Interactive API documentation', tag: 'operations', auth: 'none', success: [200, 'HTML'] },
  { method: 'get', path: '/docs/:file', summary: 'Assets of the documentation page', tag: 'operations', auth: 'none', params: z.object({ file: z.string() }), success: [200, 'A static file'] },

  { method: 'post', path: '/v1/tenants', summary: 'Create a tenant and its first API key (shown once)', tag: 'admin', auth: 'admin', body: createTenantBody, success: [201, 'The tenant and its key'] },
  { method: 'get', path: '/v1/tenants', summary: 'List tenants by name', tag: 'admin', auth: 'admin', query: listTenantsQuery, success: [200, 'A page of tenants'] },
  { method: 'get', path: '/v1/tenants/:id', summary: 'A tenant, its keys (prefixes only), allow-list and cap on jobs in flight', tag: 'admin', auth: 'admin', params: tenantIdParam, success: [200, 'The tenant'] },
  { method: 'patch', path: '/v1/tenants/:id', summary: "Set the tenant's cap on jobs in flight across its batches (null: the default)", tag: 'admin', auth: 'admin', params: tenantIdParam, body: patchTenantBody, success: [200, 'The cap'] },
  { method: 'post', path: '/v1/tenants/:id/keys', summary: 'Create an API key (shown once)', tag: 'admin', auth: 'admin', params: tenantIdParam, body: createKeyBody, success: [201, 'The key'] },
  { method: 'delete', path: '/v1/tenants/:id/keys/:keyId', summary: 'Revoke an API key, at once', tag: 'admin', auth: 'admin', params: tenantKeyParam, success: [204, 'Revoked'] },
  { method: 'put', path: '/v1/tenants/:id/http-allow-hosts', summary: "Set the tenant's http.request allow-list", tag: 'admin', auth: 'admin', params: tenantIdParam, body: allowHostsBody, success: [200, 'The allow-list'] },

  { method: 'post', path: '/v1/batches', summary: 'Submit a batch (JSON, or NDJSON with options in the query)', tag: 'batches', auth: 'apiKey', body: createBatchBody, ndjsonQuery: ingestQuery, success: [202, 'Accepted; Location names the batch'] },
  { method: 'get', path: '/v1/batches/:id', summary: 'A batch: status, counters, progress', tag: 'batches', auth: 'apiKey', params: batchIdParam, success: [200, 'The batch'] },
  { method: 'get', path: '/v1/batches', summary: "The tenant's batches, newest first (keyset pages)", tag: 'batches', auth: 'apiKey', query: listBatchesQuery, success: [200, 'A page of batches'] },
  { method: 'delete', path: '/v1/batches/:id', summary: 'Delete a finished batch and its jobs (409 while running)', tag: 'batches', auth: 'apiKey', params: batchIdParam, success: [204, 'Deleted'] },
  { method: 'patch', path: '/v1/batches/:id', summary: "Change a running batch's concurrency", tag: 'batch control', auth: 'apiKey', params: batchIdParam, body: patchBatchBody, success: [200, 'Applied by the workflow'] },
  { method: 'post', path: '/v1/batches/:id/cancel', summary: 'Cancel a batch: running attempts stop, unfinished jobs end cancelled', tag: 'batch control', auth: 'apiKey', params: batchIdParam, success: [202, 'Cancelling (200 when already cancelled)'] },
  { method: 'post', path: '/v1/batches/:id/pause', summary: 'Hold dispatch', tag: 'batch control', auth: 'apiKey', params: batchIdParam, success: [200, 'Paused'] },
  { method: 'post', path: '/v1/batches/:id/resume', summary: 'Resume dispatch', tag: 'batch control', auth: 'apiKey', params: batchIdParam, success: [200, 'Resumed'] },
  { method: 'post', path: '/v1/batches/:id/retry', summary: 'Redrive: run the failed jobs (of one error type) again', tag: 'batch control', auth: 'apiKey', params: batchIdParam, body: retryBody, success: [202, 'Running again'] },
  { method: 'get', path: '/v1/batches/:id/results', summary: "Every job's input, status, attempts, output or error: NDJSON, or CSV (Accept: text/csv)", tag: 'batches', auth: 'apiKey', params: batchIdParam, query: resultsQuery, success: [200, 'A stream of rows'] },
  { method: 'get', path: '/v1/batches/:id/events', summary: 'Server-Sent Events: progress, counters and ETA until the batch ends', tag: 'batches', auth: 'apiKey', params: batchIdParam, success: [200, 'text/event-stream'] },
  { method: 'get', path: '/v1/batches/:id/jobs', summary: "A batch's jobs, in order", tag: 'batches', auth: 'apiKey', params: batchIdParam, query: listJobsQuery, success: [200, 'A page of jobs'] },
  { method: 'get', path: '/v1/batches/:id/clusters', summary: 'Near-duplicate clusters of a document.analyze batch', tag: 'batches', auth: 'apiKey', params: batchIdParam, query: listClustersQuery, success: [200, 'Summary and a page of clusters'] },
  { method: 'get', path: '/v1/job-types', summary: 'Registered job types with their input JSON Schema', tag: 'batches', auth: 'apiKey', success: [200, 'Job types'] },

  { method: 'post', path: '/v1/consolidations', summary: 'Start a manual consolidation', tag: 'consolidation', auth: 'apiKey', body: createConsolidationBody, success: [202, 'Started (200 with the active one)'] },
  { method: 'get', path: '/v1/consolidations', summary: 'List consolidations, newest first', tag: 'consolidation', auth: 'apiKey', query: listConsolidationsQuery, success: [200, 'A page of consolidations'] },
  { method: 'get', path: '/v1/consolidations/:id', summary: 'A consolidation', tag: 'consolidation', auth: 'apiKey', params: consolidationIdParam, success: [200, 'The consolidation'] },
  ...scheduleSpecs,
  { method: 'get', path: '/v1/settings', summary: "The tenant's settings, and its cap on jobs in flight (read-only)", tag: 'consolidation', auth: 'apiKey', success: [200, 'Settings'] },
  { method: 'patch', path: '/v1/settings', summary: 'Change consolidation threshold and retention', tag: 'consolidation', auth: 'apiKey', body: patchSettingsBody, success: [200, 'Settings'] },
  { method: 'get', path: '/v1/stats', summary: 'Daily roll-ups per job type', tag: 'consolidation', auth: 'apiKey', query: statsQuery, success: [200, 'Roll-ups'] },
];
