import { Writable } from 'node:stream';
import { Client, Connection } from '@temporalio/client';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.js';
import { createSql } from '../../db/client.js';
import { withDatabaseName } from '../../db/databases.js';
import { defaultRegistry } from '../../job-types/registry.js';
import { createLogger } from '../../lib/logger.js';
import { freePort } from '../../temporal/dev-server.js';
import { waitFor } from '../support/consolidation.js';
import { createHarness, sleepItems, type Harness } from '../support/harness.js';
import { spawnWorker } from '../support/worker-process.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness({ worker: false });
});
afterAll(() => h?.close());

/** The value of one sample line, e.g. `name{a="b"} 3`, summed over lines whose labels include all of `labels`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) {
      sum += Number(m[3]);
      found = true;
    }
  }
  return found ? sum : NaN;
}

describe('API', () => {
  it('counts requests by route pattern and status, and batches by status from PostgreSQL', async () => {
    const t = await h.tenant();
    const { id } = await h.submit(t.key, { type: 'sleep', items: sleepItems([{ ms: 0 }]) });
    for (let i = 0; i < 3; i++) await h.request('GET', `/v1/batches/${id}`, { key: t.key });
    await h.request('GET', '/v1/batches/3b241101-e2bb-4255-8caf-4136c566a962', { key: t.key });
    const res = await h.request('GET', '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(sample(text, 'batchworks_http_requests_total', { method: 'GET', route: '/v1/batches/:id', status: '200' })).toBe(3);
    expect(sample(text, 'batchworks_http_requests_total', { method: 'GET', route: '/v1/batches/:id', status: '404' })).toBe(1);
    expect(sample(text, 'batchworks_http_requests_total', { method: 'POST', route: '/v1/batches', status: '202' })).toBe(1);
    expect(sample(text, 'batchworks_http_request_duration_seconds_count', { route: '/v1/batches/:id' })).toBe(4);
    const [row] = await h.sql<{ n: number }[]>`select count(*)::int as n from batches where status = 'pending'`;
    expect(sample(text, 'batchworks_batches', { status: 'pending' })).toBe(row!.n);
    expect(sample(text, 'batchworks_batches', { status: 'completed' })).toBe(0);
    expect(text).not.toContain(id);
  });

  it('logs each request with its request id, tenant, batch and workflow ids', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    });
    const app = createApp({ sql: h.sql, temporal: h.temporal, registry: defaultRegistry(), log: pino({ level: 'info' }, sink) });
    const t = await h.tenant();
    const res = await app.request('/v1/batches', {
      method: 'POST',
      headers: { Authorization: `Bearer ${t.key}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ type: 'sleep', items: sleepItems([{ ms: 0 }]) }),
    });
    const { id } = (await res.json()) as { id: string };
    const line = lines.find((l) => l.msg === 'request' && l.method === 'POST');
    expect(line).toMatchObject({
      requestId: res.headers.get('x-request-id'),
      tenantId: t.id,
      batchId: id,
      workflowId: `batch-${id}`,
      status: 202,
    });
  });

  it('is ready when PostgreSQL and Temporal answer, and says which one does not', async () => {
    const ok = await h.request('GET', '/readyz');
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ status: 'ready', checks: { postgres: 'ok', temporal: 'ok' } });

    const log = createLogger('silent', 'test');
    const noTemporal = new Client({ connection: Connection.lazy({ address: `127.0.0.1:${await freePort()}`, connectTimeout: 500 }) });
    const noDb = createSql(withDatabaseName(h.databaseUrl, 'batchworks_does_not_exist'), { max: 1 });
    try {
      const app = createApp({ sql: noDb, temporal: { ...h.temporal, client: noTemporal }, registry: defaultRegistry(), log });
      const res = await app.request('/readyz');
      expect(res.status).toBe(503);
      const detail = ((await res.json()) as { detail: string }).detail;
      expect(detail).toContain('postgres');
      expect(detail).toContain('temporal');
    } finally {
      await noDb.end({ timeout: 1 });
      // Not closed: the gRPC client's retry timer may still fire, and on a closed channel it throws unhandled.
    }
  });
});

describe('worker', () => {
  it('serves the SDK metrics and job attempts by result on WORKER_METRICS_ADDRESS', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const worker = spawnWorker(h, { WORKER_METRICS_ADDRESS: address });
    await worker.ready;
    try {
      const t = await h.tenant();
      const chunked = await h.submit(t.key, { type: 'sleep', mode: 'chunk', maxRetries: 0, items: sleepItems([{ ms: 0 }, { ms: 0 }, { ms: 0, fatal: true }]) });
      const perJob = await h.submit(t.key, { type: 'sleep', mode: 'activity', maxRetries: 1, items: sleepItems([{ ms: 0 }, { ms: 0, failTimes: 1 }]) });
      await h.waitForBatch(t.key, chunked.id);
      await h.waitForBatch(t.key, perJob.id);
      // Earlier tests left pending batches on this task queue: this worker runs them too.
      const ended = async () =>
        (await h.sql<{ succeeded: number; failed: number; open: number }[]>`
          select count(*) filter (where status = 'succeeded')::int as succeeded,
            count(*) filter (where status = 'failed')::int as failed,
            count(*) filter (where status in ('pending', 'running'))::int as open
          from jobs
        `)[0]!;
      const rows = await waitFor('every job ended', ended, (r) => r.open === 0);
      const scrape = async () => (await fetch(`http://${address}/metrics`)).text();
      const text = await waitFor('job metrics', scrape, (s) => sample(s, 'batchworks_jobs_ended_total', { outcome: 'succeeded' }) === rows.succeeded);
      expect(sample(text, 'batchworks_jobs_ended_total', { outcome: 'failed' })).toBe(rows.failed);
      expect(rows.failed).toBe(1);
      expect(sample(text, 'batchworks_job_attempts_total', { job_type: 'sleep', result: 'succeeded' })).toBe(rows.succeeded);
      // The fatal chunk job, and the per-job one's first attempt.
      expect(sample(text, 'batchworks_job_attempts_total', { job_type: 'sleep', result: 'failed' })).toBe(2);
      expect(sample(text, 'batchworks_job_attempt_duration_count', { job_type: 'sleep' })).toBe(rows.succeeded + 2);
      expect(text).toMatch(/^temporal_activity_execution_latency/m);
    } finally {
      worker.child.kill('SIGTERM');
      await worker.exited;
    }
  });
});
