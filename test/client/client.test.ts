import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchworksError, createClient, type BatchworksClient } from 'batchworks/client';
import { createHarness, type Harness, type TestTenant } from '../support/harness.js';
import { serveApp } from '../support/serve.js';

let h: Harness;
let t: TestTenant;
let api: Awaited<ReturnType<typeof serveApp>>;
let client: BatchworksClient;

beforeAll(async () => {
  h = await createHarness();
  t = await h.tenant();
  api = await serveApp(h);
  client = createClient({ baseUrl: api.url, apiKey: t.key });
});
afterAll(async () => {
  await api?.close();
  await h?.close();
});

async function rejection(p: Promise<unknown>): Promise<BatchworksError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BatchworksError);
  return err as BatchworksError;
}

describe('batchworks/client against the running API', () => {
  it('submits, waits for and reads a batch with typed answers', async () => {
    const submitted = await client.submitBatch({ type: 'sleep', concurrency: 2, items: [{ input: { ms: 1 } }, { input: { ms: 2, failTimes: 1 } }] });
    expect(submitted.status).toBe('pending');
    const seen: string[] = [];
    const done = await client.waitForBatch(submitted.id, { intervalMs: 100, onProgress: (b) => seen.push(b.status) });
    expect(done.status).toBe('completed');
    expect(done.counters).toEqual({ total: 2, succeeded: 2, failed: 0, cancelled: 0, remaining: 0 });
    expect(seen.at(-1)).toBe('completed');
    const jobs = await client.listJobs(submitted.id, { limit: 1 });
    expect(jobs.items).toHaveLength(1);
    expect(jobs.nextCursor).toBe('0');
    const rest = await client.listJobs(submitted.id, { cursor: jobs.nextCursor! });
    expect(rest.items[0]).toMatchObject({ index: 1, attempts: 2, lastError: { type: 'TransientJobError' } });
  });

  it('lists job types with their schemas', async () => {
    const { items } = await client.jobTypes();
    expect(items.map((i) => i.name)).toContain('http.request');
  });

  it('throws BatchworksError with the problem details for invalid input', async () => {
    const err = await rejection(client.submitBatch({ type: 'sleep', items: [{ input: { ms: -1 } }] }));
    expect(err.status).toBe(400);
    expect(err.title).toBe('Invalid request');
    expect(err.type).toBe('/problems/invalid-request');
    expect(err.errors.map((e) => e.path)).toEqual(['body.items.0.input.ms']);
  });

  it('throws 404 for another tenant’s batch and 401 for a bad key', async () => {
    const { id } = await client.submitBatch({ type: 'sleep', items: [{ input: { ms: 0 } }] });
    const other = createClient({ baseUrl: api.url, apiKey: (await h.tenant()).key });
    expect((await rejection(other.getBatch(id))).status).toBe(404);
    const bad = createClient({ baseUrl: api.url, apiKey: 'bw_nope' });
    const unauthorized = await rejection(bad.jobTypes());
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.detail).toMatch(/not valid/);
  });

  it('batch control through the typed routes: pause, concurrency, resume, list, retry, results, delete', async () => {
    const { id } = await client.submitBatch({ type: 'sleep', concurrency: 1, items: Array.from({ length: 30 }, () => ({ input: { ms: 100 } })) });
    const paused = await client.pauseBatch(id);
    expect(paused).toMatchObject({ id, paused: true });
    expect(await client.setConcurrency(id, 5)).toMatchObject({ concurrency: 5 });
    expect(await client.resumeBatch(id)).toMatchObject({ paused: false, concurrency: 5 });
    expect((await client.waitForBatch(id, { intervalMs: 100 })).status).toBe('completed');
    const page = await client.listBatches({ status: 'completed', limit: 100 });
    expect(page.items.map((b) => b.id)).toContain(id);
    expect((await rejection(client.retryBatch(id))).status).toBe(409);
    const text = await new Response(await client.results(id, 'csv')).text();
    expect(text.trim().split('\r\n')).toHaveLength(31);
    await client.deleteBatch(id);
    expect((await rejection(client.getBatch(id))).status).toBe(404);
  });
});
