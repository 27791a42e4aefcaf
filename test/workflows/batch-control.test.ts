/**
 * Cancel, pause/resume, live concurrency and failure tolerance on running batches,
 * in both execution modes, through the API against the real worker and database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listJobs } from '../../db/jobs.js';
import { SearchAttributes } from '../../lib/names.js';
import { createHarness, sleepItems, type Harness, type TestTenant } from '../support/harness.js';
import { countersOf, expectSettledCounters, progressOf, waitFor } from '../support/batch-control.js';

let h: Harness;
let t: TestTenant;
beforeAll(async () => {
  h = await createHarness();
  t = await h.tenant();
});
afterAll(() => h?.close());

const post = (path: string, json?: unknown) => h.request('POST', path, { key: t.key, ...(json !== undefined ? { json } : {}) });

describe.each(['activity', 'chunk', 'local'] as const)('batch control in %s mode', (mode) => {
  const submit = (body: Record<string, unknown>) => h.submit(t.key, { ...body, mode });

  it('cancel mid-run: running and pending jobs end cancelled, counters exact; cancel is idempotent', async () => {
    // Four quick jobs, then long ones that are running when the cancel lands (40 jobs: a remote chunk, which heartbeats).
    const items = sleepItems([...Array.from({ length: 4 }, () => ({ ms: 0 })), ...Array.from({ length: 36 }, () => ({ ms: 60_000 }))]);
    const { id } = await submit({ type: 'sleep', concurrency: 4, items });
    await h.waitForBatch(t.key, id, { until: (b) => b.counters.succeeded === 4 });
    const runningBefore = (await listJobs(h.sql, id, { afterSeq: -1, limit: 100, status: 'running' })).map((j) => j.id);
    if (mode === 'activity') {
      await waitFor('four attempts in flight', async () => (await listJobs(h.sql, id, { afterSeq: -1, limit: 100, status: 'running' })).length === 4);
    }
    const res = await post(`/v1/batches/${id}/cancel`);
    expect(res.status).toBe(202);
    const done = await h.waitForBatch(t.key, id);
    expect(done.status).toBe('cancelled');
    expect(done.counters).toEqual({ total: 40, succeeded: 4, failed: 0, cancelled: 36, remaining: 0 });
    await expectSettledCounters(h, id);
    const jobs = await listJobs(h.sql, id, { afterSeq: -1, limit: 100 });
    for (const j of jobs.filter((x) => runningBefore.includes(x.id))) expect(j.status).toBe('cancelled');
    const again = await post(`/v1/batches/${id}/cancel`);
    expect(again.status).toBe(200);
    expect(((await again.json()) as { status: string }).status).toBe('cancelled');
    const desc = await h.client.workflow.getHandle(done.workflowId).describe();
    expect(desc.typedSearchAttributes.get(SearchAttributes.BatchStatus)).toBe('cancelled');
  });

  it('a finished batch answers 409 to cancel, pause, resume and PATCH', async () => {
    const { id } = await submit({ type: 'sleep', items: sleepItems([{ ms: 0 }]) });
    await h.waitForBatch(t.key, id);
    for (const [method, path, json] of [
      ['POST', 'cancel', undefined],
      ['POST', 'pause', undefined],
      ['POST', 'resume', undefined],
      ['PATCH', '', { concurrency: 3 }],
    ] as const) {
      const res = await h.request(method, `/v1/batches/${id}${path ? `/${path}` : ''}`, { key: t.key, ...(json ? { json } : {}) });
      expect(res.status, `${method} ${path}`).toBe(409);
    }
  });

  it('pause holds dispatch (counters stop) and resume finishes the batch', async () => {
    const { id, body } = await submit({ type: 'sleep', concurrency: 2, items: sleepItems(Array.from({ length: 40 }, () => ({ ms: 150 }))) });
    const workflowId = body.workflowId as string;
    await h.waitForBatch(t.key, id, { until: (b) => b.counters.succeeded >= 2 });
    const paused = await post(`/v1/batches/${id}/pause`);
    expect(paused.status).toBe(200);
    expect(await paused.json()).toMatchObject({ id, status: 'running', paused: true });
    // Attempts in flight finish; nothing new starts.
    await waitFor('in-flight work to drain', async () => (await progressOf(h, workflowId)).running === 0);
    const held = await countersOf(h, id);
    expect(held.paused).toBe(true);
    expect(held.succeeded).toBeLessThan(40);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await countersOf(h, id)).toEqual(held);
    expect((await h.client.workflow.getHandle(workflowId).describe()).typedSearchAttributes.get(SearchAttributes.BatchStatus)).toBe('paused');

    const resumed = await post(`/v1/batches/${id}/resume`);
    expect(resumed.status).toBe(200);
    expect(await resumed.json()).toMatchObject({ paused: false });
    const done = await h.waitForBatch(t.key, id);
    expect(done.status).toBe('completed');
    expect(done.counters).toMatchObject({ total: 40, succeeded: 40 });
    await expectSettledCounters(h, id);
    expect((await listJobs(h.sql, id, { afterSeq: -1, limit: 100 })).every((j) => j.attempts === 1)).toBe(true);
  });

  it('PATCH concurrency reaches the running workflow and the work dispatched after it', async () => {
    const { id, body } = await submit({ type: 'sleep', concurrency: 1, items: sleepItems(Array.from({ length: 40 }, () => ({ ms: 150 }))) });
    const workflowId = body.workflowId as string;
    await h.waitForBatch(t.key, id, { until: (b) => b.counters.succeeded >= 1 });
    // Paused around the change so the chunked mode starts a new chunk (its lanes are fixed per chunk).
    expect((await post(`/v1/batches/${id}/pause`)).status).toBe(200);
    await waitFor('in-flight work to drain', async () => (await progressOf(h, workflowId)).running === 0);
    const res = await h.request('PATCH', `/v1/batches/${id}`, { key: t.key, json: { concurrency: 4 } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ concurrency: 4, paused: true });
    expect((await progressOf(h, workflowId)).concurrency).toBe(4);
    expect((await post(`/v1/batches/${id}/resume`)).status).toBe(200);
    if (mode === 'activity') {
      await waitFor('four attempts in flight', async () => (await progressOf(h, workflowId)).running === 4);
    }
    const done = await h.waitForBatch(t.key, id);
    expect(done).toMatchObject({ status: 'completed', counters: { succeeded: 40 } });
    if (mode === 'chunk') {
      // The chunk started after the resume ran with four lanes.
      const history = await h.client.workflow.getHandle(workflowId).fetchHistory();
      const lanes = (history.events ?? [])
        .map((e) => e.activityTaskScheduledEventAttributes?.input?.payloads?.[0]?.data)
        .filter((d): d is Uint8Array => d instanceof Uint8Array)
        .map((d) => JSON.parse(Buffer.from(d).toString('utf8')) as { seqs?: number[]; concurrency?: number })
        .filter((a) => a.seqs !== undefined)
        .map((a) => a.concurrency);
      expect(lanes.at(-1)).toBe(4);
    }
    await expectSettledCounters(h, id);
  });

  it('tolerance crossed: dispatch stops, the rest is cancelled, the batch fails', async () => {
    const items = sleepItems([...Array.from({ length: 6 }, () => ({ ms: 0, fatal: true })), ...Array.from({ length: 34 }, () => ({ ms: 200 }))]);
    const { id, body } = await submit({ type: 'sleep', concurrency: 2, toleratedFailures: 3, items });
    expect(body.toleratedFailures).toBe(3);
    const done = await h.waitForBatch(t.key, id);
    expect(done.status).toBe('failed');
    expect(done.counters.failed).toBeGreaterThan(3);
    expect(done.counters.cancelled).toBeGreaterThan(0);
    expect(done.counters.succeeded + done.counters.failed + done.counters.cancelled).toBe(40);
    await expectSettledCounters(h, id);
  });

  it('tolerance not crossed: a percentage within the failures ends partial', async () => {
    const items = sleepItems(Array.from({ length: 20 }, (_, i) => (i < 2 ? { ms: 0, fatal: true } : { ms: 0 })));
    const { id, body } = await submit({ type: 'sleep', concurrency: 4, toleratedFailures: '10%', items });
    expect(body.toleratedFailures).toBe('10%');
    const done = await h.waitForBatch(t.key, id);
    expect(done.status).toBe('partial');
    expect(done.counters).toEqual({ total: 20, succeeded: 18, failed: 2, cancelled: 0, remaining: 0 });
    await expectSettledCounters(h, id);
  });
});

it("chunk mode: the chunks' lanes together are the concurrency, not each chunk's rounded-up share", async () => {
  // 27 at most in flight: two chunks of 14 would run 28.
  const { id, body } = await h.submit(t.key, { type: 'sleep', mode: 'chunk', concurrency: 27, items: sleepItems(Array.from({ length: 400 }, () => ({ ms: 0 }))) });
  const done = await h.waitForBatch(t.key, id);
  expect(done).toMatchObject({ status: 'completed', counters: { succeeded: 400 } });
  const history = await h.client.workflow.getHandle(body.workflowId as string).fetchHistory();
  const lanes = (history.events ?? [])
    .map((e) => e.activityTaskScheduledEventAttributes?.input?.payloads?.[0]?.data)
    .filter((d): d is Uint8Array => d instanceof Uint8Array)
    .map((d) => (JSON.parse(Buffer.from(d).toString('utf8')) as { range?: unknown; concurrency: number }).concurrency);
  // Both chunks start at once (two slots free), each with its share of what is left.
  expect(lanes).toEqual([14, 13]);
  await expectSettledCounters(h, id);
});
