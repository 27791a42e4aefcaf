import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countJobsByStatus, listJobs } from '../../db/jobs.js';
import { SearchAttributes } from '../../lib/names.js';
import { CHUNK_RANGE_SIZE } from '../../workflows/batch.js';
import { createHarness, type Harness, type TestTenant } from '../support/harness.js';

let h: Harness;
let t: TestTenant;
beforeAll(async () => {
  h = await createHarness();
  t = await h.tenant();
});
afterAll(() => h?.close());

const ndjson = (lines: unknown[]) => lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n';
const upload = (query: string, body: string) =>
  h.request('POST', `/v1/batches?${query}`, { key: t.key, body, headers: { 'Content-Type': 'application/x-ndjson' } });
const batchCount = async () => (await h.sql<{ n: number }[]>`select count(*)::int as n from batches`)[0]!.n;

describe('NDJSON ingest', () => {
  it('stores every line as a job, in order, and runs the batch', async () => {
    const items = Array.from({ length: 1_000 }, (_, i) => ({ input: { ms: 0, failTimes: i % 100 === 0 ? 1 : 0 } }));
    const res = await upload('type=sleep&concurrency=20&backoffInitialMs=10', ndjson(items));
    expect(res.status).toBe(202);
    const body = (await res.json()) as { id: string; mode: string; counters: { total: number } };
    expect(body).toMatchObject({ mode: 'chunk', counters: { total: 1_000 } });
    const done = await h.waitForBatch(t.key, body.id);
    expect(done.status).toBe('completed');
    expect(await countJobsByStatus(h.sql, body.id)).toMatchObject({ succeeded: 1_000 });
    const jobs = await listJobs(h.sql, body.id, { afterSeq: -1, limit: 1_000 });
    expect(jobs.map((j) => j.seq)).toEqual(items.map((_, i) => i));
    expect(jobs.filter((j) => j.attempts === 2).map((j) => j.seq)).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 900]);
  });

  it('rejects the whole upload at the first bad line, naming it, and stores nothing', async () => {
    const before = await batchCount();
    const lines = [{ input: { ms: 0 } }, { input: { ms: 0 } }, '{"input": {"ms": 0}', { input: { ms: 0 } }];
    const res = await upload('type=sleep', ndjson(lines));
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    const p = (await res.json()) as { detail: string; errors: { path: string }[] };
    expect(p.detail).toContain('Line 3');
    expect(p.errors[0]!.path).toBe('line 3');
    const invalid = await upload('type=sleep', ndjson([{ input: { ms: 0 } }, { input: { ms: -1 } }]));
    expect(((await invalid.json()) as { errors: { path: string; message: string }[] }).errors[0]).toMatchObject({ path: 'line 2' });
    expect(await batchCount()).toBe(before);
    expect((await h.sql<{ n: number }[]>`select count(*)::int as n from jobs where batch_id not in (select id from batches)`)[0]!.n).toBe(0);
  });

  it('rejects a 1,000,000-line upload whose last line is bad, naming that line, and stores none of it', async () => {
    // A thousand COPY pages are in the transaction when the last line fails it.
    const before = await batchCount();
    const jobsBefore = (await h.sql<{ n: number }[]>`select count(*)::int as n from jobs`)[0]!.n;
    const res = await upload('type=sleep&concurrency=100', `${'{"input":{"ms":0}}\n'.repeat(999_999)}{"input":{"ms":0}\n`);
    expect(res.status).toBe(400);
    const p = (await res.json()) as { detail: string; errors: { path: string }[] };
    expect(p.errors[0]!.path).toBe('line 1000000');
    expect(p.detail).toContain('Line 1000000');
    expect(await batchCount()).toBe(before);
    expect((await h.sql<{ n: number }[]>`select count(*)::int as n from jobs`)[0]!.n).toBe(jobsBefore);
  });

  it('rejects bad options and empty bodies with 400', async () => {
    expect((await upload('concurrency=5', ndjson([{ input: { ms: 0 } }]))).status).toBe(400);
    expect((await upload('type=nope', ndjson([{ input: { ms: 0 } }]))).status).toBe(400);
    expect((await upload('type=sleep&mode=fast', ndjson([{ input: { ms: 0 } }]))).status).toBe(400);
    expect((await upload('type=sleep', '\n\n')).status).toBe(400);
    expect((await upload('type=sleep', ndjson([{ input: { ms: 0 }, extra: 1 }]))).status).toBe(400);
  });

  it(`fans a batch of more than ${CHUNK_RANGE_SIZE} jobs out over child workflows`, async () => {
    const total = CHUNK_RANGE_SIZE + 5_000;
    const line = `${JSON.stringify({ input: { ms: 0 } })}\n`;
    const res = await upload('type=sleep&concurrency=100', line.repeat(total));
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const done = await h.waitForBatch(t.key, id);
    expect(done.status).toBe('completed');
    expect(done.counters).toEqual({ total, succeeded: total, failed: 0, cancelled: 0, remaining: 0 });
    expect(await countJobsByStatus(h.sql, id)).toEqual({ pending: 0, running: 0, succeeded: total, failed: 0, cancelled: 0 });
    const children: string[] = [];
    for await (const wf of h.client.workflow.list({ query: `BatchId = '${id}' AND WorkflowType = 'batchRangeWorkflow'` })) {
      children.push(wf.workflowId);
      expect(wf.historyLength).toBeLessThan(10_000);
      expect(wf.typedSearchAttributes.get(SearchAttributes.TenantId)).toBe(t.id);
    }
    expect(children.sort()).toEqual([`batch-${id}-range-0`, `batch-${id}-range-1`]);
  });
});
