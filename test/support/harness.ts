/**
 * One per test file: its own database (copied from the migrated template), its own
 * task queue with an in-process worker, the real Hono app, and helpers to act as
 * API clients of one or more tenants.
 */
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { inject } from 'vitest';
import { createApp } from '../../api/app.js';
import { DEFAULT_TENANT_MAX_JOBS_IN_FLIGHT } from '../../config.js';
import { createSql, type Sql } from '../../db/client.js';
import { dropDatabase } from '../../db/databases.js';
import { insertApiKey, insertTenant } from '../../db/tenants.js';
import { defaultRegistry, type JobTypeRegistry } from '../../job-types/registry.js';
import { createLogger } from '../../lib/logger.js';
import { TERMINAL_BATCH_STATUSES, type BatchStatus } from '../../lib/names.js';
import type { TemporalDeps } from '../../temporal/batch-client.js';
import { createWorker, installRuntime } from '../../temporal/worker.js';
import { createTestDatabase } from './databases.js';

export interface TestTenant {
  id: string;
  name: string;
  key: string;
}

export interface Harness {
  databaseUrl: string;
  temporalAddress: string;
  workflowBundlePath: string;
  taskQueue: string;
  sql: Sql;
  client: Client;
  temporal: TemporalDeps;
  app: ReturnType<typeof createApp>;
  tenant(name?: string): Promise<TestTenant>;
  request(method: string, path: string, opts?: { key?: string; json?: unknown; body?: string; headers?: Record<string, string> }): Promise<Response>;
  submit(key: string, body: unknown): Promise<{ id: string; status: number; body: Record<string, unknown> }>;
  /** Polls the API until the batch has ended; bounded so a stuck batch fails the test instead of hanging it. */
  waitForBatch(key: string, id: string, opts?: { until?: (b: BatchBody) => boolean }): Promise<BatchBody>;
  startWorker(opts?: { maxConcurrentActivities?: number }): Promise<void>;
  stopWorker(): Promise<void>;
  close(): Promise<void>;
}

export interface BatchBody {
  id: string;
  status: BatchStatus;
  counters: { total: number; succeeded: number; failed: number; cancelled: number; remaining: number };
  progress: { processed: number; total: number; percent: number };
  startedAt: string | null;
  completedAt: string | null;
  durationMs: number | null;
  workflowId: string;
  links: { temporalUi: string };
}

const WAIT_LIMIT_MS = 150_000;
/** The admin token of every harness's app (ADMIN_TOKEN in production). */
export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';
let runtimeInstalled = false;

export async function createHarness(
  opts: { worker?: boolean; registry?: JobTypeRegistry; temporalAddress?: string; controlTimeoutMs?: number; tenantMaxJobsInFlight?: number } = {},
): Promise<Harness> {
  const temporalAddress = opts.temporalAddress ?? inject('temporalAddress');
  const registry = opts.registry ?? defaultRegistry();
  const workflowBundlePath = inject('workflowBundlePath');
  const databaseUrl = await createTestDatabase(inject('templateDatabase'));
  const taskQueue = `test-${randomBytes(4).toString('hex')}`;
  const sql = createSql(databaseUrl, { max: 20 });
  const log = createLogger('silent', 'test');
  runtimeInstalled ||= (installRuntime(log, 'ERROR'), true);
  const connection = await Connection.connect({ address: temporalAddress });
  const client = new Client({ connection, namespace: 'default' });
  const temporal: TemporalDeps = { client, namespace: 'default', taskQueue, uiUrl: 'http://localhost:8233', controlTimeoutMs: opts.controlTimeoutMs ?? 10_000 };
  const tenantMaxJobsInFlight = opts.tenantMaxJobsInFlight ?? DEFAULT_TENANT_MAX_JOBS_IN_FLIGHT;
  const app = createApp({ sql, temporal, registry, log, adminToken: TEST_ADMIN_TOKEN, tenantMaxJobsInFlight });

  let nativeConnection: NativeConnection | undefined;
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;

  const h: Harness = {
    databaseUrl,
    temporalAddress,
    workflowBundlePath,
    taskQueue,
    sql,
    client,
    temporal,
    app,
    async tenant(name = `t${randomBytes(4).toString('hex')}`) {
      const t = await insertTenant(sql, name);
      const { key } = await insertApiKey(sql, t.id);
      return { id: t.id, name: t.name, key };
    },
    async request(method, path, o = {}) {
      const headers: Record<string, string> = { ...o.headers };
      if (o.key) headers.Authorization = `Bearer ${o.key}`;
      let body = o.body;
      if (o.json !== undefined) {
        body = JSON.stringify(o.json);
        headers['Content-Type'] ??= 'application/json';
      }
      return app.request(path, { method, headers, ...(body !== undefined ? { body } : {}) });
    },
    async submit(key, body) {
      const res = await h.request('POST', '/v1/batches', { key, json: body });
      const json = (await res.json()) as Record<string, unknown>;
      return { id: json.id as string, status: res.status, body: json };
    },
    async waitForBatch(key, id, o = {}) {
      const done = o.until ?? ((b: BatchBody) => TERMINAL_BATCH_STATUSES.includes(b.status));
      const deadline = Date.now() + WAIT_LIMIT_MS;
      for (;;) {
        const res = await h.request('GET', `/v1/batches/${id}`, { key });
        const b = (await res.json()) as BatchBody;
        if (res.status === 200 && done(b)) return b;
        if (Date.now() > deadline) throw new Error(`batch ${id} still ${b.status} after ${WAIT_LIMIT_MS} ms: ${JSON.stringify(b.counters)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async startWorker(o = {}) {
      nativeConnection ??= await NativeConnection.connect({ address: temporalAddress });
      worker = await createWorker({
        connection: nativeConnection,
        namespace: 'default',
        taskQueue,
        sql,
        registry,
        log,
        workflowBundle: { codePath: workflowBundlePath },
        shutdownGraceMs: 5_000,
        maxConcurrentActivities: o.maxConcurrentActivities ?? 100,
        tenantMaxJobsInFlight,
      });
      running = worker.run();
    },
    async stopWorker() {
      if (worker && worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      worker = undefined;
      running = undefined;
    },
    async close() {
      await h.stopWorker();
      await nativeConnection?.close();
      await connection.close();
      await sql.end({ timeout: 5 });
      await dropDatabase(databaseUrl);
    },
  };
  if (opts.worker !== false) await h.startWorker();
  return h;
}

export const sleepItems = (inputs: Array<Record<string, unknown>>) => inputs.map((input) => ({ input }));
