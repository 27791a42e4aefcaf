import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, sleepItems, type Harness, type TestTenant } from '../support/harness.js';

let h: Harness;
let alice: TestTenant;
let bob: TestTenant;

beforeAll(async () => {
  h = await createHarness();
  alice = await h.tenant('alice');
  bob = await h.tenant('bob');
});
afterAll(() => h?.close());

interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: { path: string; message: string }[];
}

async function expectProblem(res: Response, status: number): Promise<ProblemBody> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  const body = (await res.json()) as ProblemBody;
  expect(body).toMatchObject({ status, title: expect.any(String), detail: expect.any(String), type: expect.any(String) });
  return body;
}

const batchCount = async () => (await h.sql<{ n: number }[]>`select count(*)::int as n from batches`)[0]!.n;

describe('POST /v1/batches', () => {
  it('answers 202 with Location and the batch, and writes it with its jobs', async () => {
    const res = await h.request('POST', '/v1/batches', {
      key: alice.key,
      json: { type: 'sleep', concurrency: 3, maxRetries: 1, items: sleepItems([{ ms: 0 }, { ms: 1 }]) },
    });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { id: string; status: string; counters: { total: number } };
    expect(res.headers.get('location')).toBe(`/v1/batches/${body.id}`);
    expect(body).toMatchObject({ status: 'pending', concurrency: 3, maxRetries: 1, counters: { total: 2 } });
    const done = await h.waitForBatch(alice.key, body.id);
    expect(done.status).toBe('completed');
    expect(done.links.temporalUi).toContain(`/workflows/batch-${body.id}`);
  });

  it('rejects malformed JSON with 400', async () => {
    const before = await batchCount();
    const res = await h.request('POST', '/v1/batches', {
      key: alice.key,
      body: '{"type": "sleep", "items": [',
      headers: { 'Content-Type': 'application/json' },
    });
    const p = await expectProblem(res, 400);
    expect(p.detail).toMatch(/JSON/);
    expect(await batchCount()).toBe(before);
  });

  it('rejects a body that is not JSON with 415', async () => {
    const res = await h.request('POST', '/v1/batches', { key: alice.key, body: 'type=sleep', headers: { 'Content-Type': 'text/plain' } });
    await expectProblem(res, 415);
  });

  it('lists every invalid field of a bad body', async () => {
    const before = await batchCount();
    const res = await h.request('POST', '/v1/batches', {
      key: alice.key,
      json: { type: 'sleep', items: 'nope', concurrency: 0, extra: true },
    });
    const p = await expectProblem(res, 400);
    const paths = p.errors!.map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['body.items', 'body.concurrency']));
    expect(p.errors!.some((e) => e.message.includes('extra'))).toBe(true);
    expect(await batchCount()).toBe(before);
  });

  it('rejects an empty batch', async () => {
    const p = await expectProblem(await h.request('POST', '/v1/batches', { key: alice.key, json: { type: 'sleep', items: [] } }), 400);
    expect(p.errors!.map((e) => e.path)).toContain('body.items');
  });

  it('rejects an unknown job type, naming the registered ones', async () => {
    const p = await expectProblem(
      await h.request('POST', '/v1/batches', { key: alice.key, json: { type: 'nope', items: sleepItems([{ ms: 1 }]) } }),
      400,
    );
    expect(p.errors).toEqual([{ path: 'body.type', message: expect.stringContaining('sleep') }]);
  });

  it('rejects invalid inputs with the offending item indexes, and writes nothing', async () => {
    const before = await batchCount();
    const res = await h.request('POST', '/v1/batches', {
      key: alice.key,
      json: { type: 'sleep', items: sleepItems([{ ms: 1 }, { ms: -5 }, { ms: 1 }, { wait: 3 }, { ms: 'x' }]) },
    });
    const p = await expectProblem(res, 400);
    expect(p.detail).toContain('3 of 5 items');
    const indexes = new Set(p.errors!.map((e) => e.path.split('.')[2]));
    expect([...indexes].sort()).toEqual(['1', '3', '4']);
    expect(p.errors!.map((e) => e.path)).toContain('body.items.1.input.ms');
    expect(await batchCount()).toBe(before);
  });
});

describe('GET /v1/batches/:id and /jobs', () => {
  it('pages through jobs with a cursor and filters by status', async () => {
    const { id } = await h.submit(alice.key, {
      type: 'sleep',
      maxRetries: 0,
      items: sleepItems(Array.from({ length: 7 }, (_, i) => (i === 2 ? { ms: 0, fatal: true } : { ms: 0 }))),
    });
    await h.waitForBatch(alice.key, id);
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const res = await h.request('GET', `/v1/batches/${id}/jobs?limit=3${cursor ? `&cursor=${cursor}` : ''}`, { key: alice.key });
      expect(res.status).toBe(200);
      const page = (await res.json()) as { items: { index: number }[]; nextCursor: string | null };
      seen.push(...page.items.map((j) => j.index));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6]);
    const failed = (await (await h.request('GET', `/v1/batches/${id}/jobs?status=failed`, { key: alice.key })).json()) as {
      items: { index: number; lastError: { type: string } }[];
    };
    expect(failed.items.map((j) => [j.index, j.lastError.type])).toEqual([[2, 'FatalJobError']]);
  });

  it('rejects a malformed id with 400 and an unknown one with 404', async () => {
    const bad = await expectProblem(await h.request('GET', '/v1/batches/not-a-uuid', { key: alice.key }), 400);
    expect(bad.errors![0]!.path).toBe('path.id');
    await expectProblem(await h.request('GET', '/v1/batches/3b241101-e2bb-4255-8caf-4136c566a962', { key: alice.key }), 404);
    await expectProblem(await h.request('GET', '/v1/batches/3b241101-e2bb-4255-8caf-4136c566a962/jobs?limit=0', { key: alice.key }), 400);
  });
});

describe('authentication and tenancy', () => {
  it('answers 401 without a key, with a malformed header, and with a wrong key', async () => {
    const missing = await h.request('GET', '/v1/batches/3b241101-e2bb-4255-8caf-4136c566a962');
    await expectProblem(missing, 401);
    expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer/);
    await expectProblem(await h.request('GET', '/v1/batches/x', { headers: { Authorization: 'Basic abc' } }), 401);
    await expectProblem(await h.request('POST', '/v1/batches', { key: 'bw_00000000_wrong', json: { type: 'sleep', items: [] } }), 401);
  });

  it("never shows one tenant another tenant's batch", async () => {
    const { id } = await h.submit(alice.key, { type: 'sleep', items: sleepItems([{ ms: 0 }]) });
    await expectProblem(await h.request('GET', `/v1/batches/${id}`, { key: bob.key }), 404);
    await expectProblem(await h.request('GET', `/v1/batches/${id}/jobs`, { key: bob.key }), 404);
    expect((await h.request('GET', `/v1/batches/${id}`, { key: alice.key })).status).toBe(200);
  });

  it('answers unknown routes with a 404 problem, and /healthz without a key', async () => {
    await expectProblem(await h.request('GET', '/nope'), 404);
    const health = await h.request('GET', '/healthz');
    expect(health.status).toBe(200);
  });
});
