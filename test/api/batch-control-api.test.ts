/**
 * The issue-4 routes through the app: idempotency, list with keyset pagination,
 * delete, results (NDJSON and CSV), events (SSE), the error summary, validation, and
 * tenancy (every route refuses another tenant's batch with 404).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../../cli/input-file.js';
import { listJobs } from '../../db/jobs.js';
import { createHarness, sleepItems, type Harness, type TestTenant } from '../support/harness.js';

let h: Harness;
let alice: TestTenant;
let bob: TestTenant;
beforeAll(async () => {
  h = await createHarness();
  alice = await h.tenant();
  bob = await h.tenant();
});
afterAll(() => h?.close());

const batchCount = async (tenantId: string) =>
  (await h.sql<{ n: number }[]>`select count(*)::int as n from batches where tenant_id = ${tenantId}`)[0]!.n;
const withKey = (key: string, idem: string, json: unknown) =>
  h.request('POST', '/v1/batches', { key, json, headers: { 'Idempotency-Key': idem } });

describe('Idempotency-Key on POST /v1/batches', () => {
  it('replays the same request as 200 with the same batch, and refuses another body with 422', async () => {
    const body = { type: 'sleep', items: sleepItems([{ ms: 0 }]) };
    const first = await withKey(alice.key, 'order-1', body);
    expect(first.status).toBe(202);
    const { id } = (await first.json()) as { id: string };
    const before = await batchCount(alice.id);
    const again = await withKey(alice.key, 'order-1', body);
    expect(again.status).toBe(200);
    expect(((await again.json()) as { id: string }).id).toBe(id);
    const other = await withKey(alice.key, 'order-1', { ...body, concurrency: 3 });
    expect(other.status).toBe(422);
    expect(other.headers.get('content-type')).toBe('application/problem+json');
    expect(await batchCount(alice.id)).toBe(before);
    // Keys are per tenant: bob's 'order-1' is his own.
    const bobs = await withKey(bob.key, 'order-1', body);
    expect(bobs.status).toBe(202);
    expect(((await bobs.json()) as { id: string }).id).not.toBe(id);
  });

  it('concurrent duplicates create one batch', async () => {
    const body = { type: 'sleep', items: sleepItems(Array.from({ length: 200 }, () => ({ ms: 0 }))) };
    const before = await batchCount(alice.id);
    const answers = await Promise.all(Array.from({ length: 4 }, () => withKey(alice.key, 'burst', body)));
    const ids = await Promise.all(answers.map(async (r) => ((await r.json()) as { id: string }).id));
    expect(new Set(ids).size).toBe(1);
    expect(answers.map((r) => r.status).sort()).toEqual([200, 200, 200, 202]);
    expect(await batchCount(alice.id)).toBe(before + 1);
  });

  it('works for NDJSON bodies, hashing the bytes and the options', async () => {
    const send = (query: string, lines: string) =>
      h.request('POST', `/v1/batches?${query}`, {
        key: alice.key,
        body: lines,
        headers: { 'Content-Type': 'application/x-ndjson', 'Idempotency-Key': 'nd-1' },
      });
    const lines = `${JSON.stringify({ input: { ms: 0 } })}\n`.repeat(3);
    const first = await send('type=sleep', lines);
    expect(first.status).toBe(202);
    const { id } = (await first.json()) as { id: string };
    const again = await send('type=sleep', lines);
    expect(again.status).toBe(200);
    expect(((await again.json()) as { id: string }).id).toBe(id);
    expect((await send('type=sleep', `${lines}${JSON.stringify({ input: { ms: 1 } })}\n`)).status).toBe(422);
    expect((await send('type=sleep&concurrency=2', lines)).status).toBe(422);
  });

  it('rejects a malformed key with 400', async () => {
    expect((await withKey(alice.key, 'has space', { type: 'sleep', items: sleepItems([{ ms: 0 }]) })).status).toBe(400);
  });
});

describe('GET /v1/batches (list)', () => {
  it('pages newest first with no gaps or repeats while batches are inserted concurrently', async () => {
    const t = await h.tenant();
    const original: string[] = [];
    for (let i = 0; i < 12; i++) original.push((await h.submit(t.key, { type: 'sleep', items: sleepItems([{ ms: 0 }]) })).id);
    const seen: string[] = [];
    const inserted: string[] = [];
    let cursor: string | null = null;
    let page = 0;
    do {
      const [res] = await Promise.all([
        h.request('GET', `/v1/batches?limit=5${cursor ? `&cursor=${cursor}` : ''}`, { key: t.key }),
        // Inserts racing the page reads.
        h.submit(t.key, { type: 'sleep', items: sleepItems([{ ms: 0 }]) }).then((b) => inserted.push(b.id)),
      ]);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { items: { id: string; createdAt: string }[]; nextCursor: string | null };
      seen.push(...body.items.map((b) => b.id));
      cursor = body.nextCursor;
      page++;
    } while (cursor && page < 20);
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of original) expect(seen).toContain(id);
    // Newest first: the originals appear in reverse order of creation.
    expect(seen.filter((id) => original.includes(id))).toEqual([...original].reverse());
    expect(inserted.length).toBeGreaterThan(0);
  });

  it('filters by status and type, and rejects a bad cursor', async () => {
    const t = await h.tenant();
    const { id } = await h.submit(t.key, { type: 'sleep', items: sleepItems([{ ms: 0, fatal: true }]), maxRetries: 0 });
    await h.waitForBatch(t.key, id);
    const failed = (await (await h.request('GET', '/v1/batches?status=failed&type=sleep', { key: t.key })).json()) as { items: { id: string }[] };
    expect(failed.items.map((b) => b.id)).toEqual([id]);
    const none = (await (await h.request('GET', '/v1/batches?status=completed', { key: t.key })).json()) as { items: unknown[] };
    expect(none.items).toEqual([]);
    expect(((await (await h.request('GET', '/v1/batches?type=http.request', { key: t.key })).json()) as { items: unknown[] }).items).toEqual([]);
    expect((await h.request('GET', '/v1/batches?cursor=bm9wZQ', { key: t.key })).status).toBe(400);
    expect((await h.request('GET', '/v1/batches?status=nope', { key: t.key })).status).toBe(400);
  });
});

describe('DELETE, results, events and the error summary', () => {
  it('DELETE: 409 while running, 204 once finished, jobs removed by cascade', async () => {
    const { id } = await h.submit(alice.key, { type: 'sleep', items: sleepItems([{ ms: 60_000 }, { ms: 0 }]) });
    expect((await h.request('DELETE', `/v1/batches/${id}`, { key: alice.key })).status).toBe(409);
    expect((await h.request('POST', `/v1/batches/${id}/cancel`, { key: alice.key })).status).toBe(202);
    await h.waitForBatch(alice.key, id);
    expect((await h.request('DELETE', `/v1/batches/${id}`, { key: alice.key })).status).toBe(204);
    expect((await h.request('GET', `/v1/batches/${id}`, { key: alice.key })).status).toBe(404);
    expect((await h.sql<{ n: number }[]>`select count(*)::int as n from jobs where batch_id = ${id}`)[0]!.n).toBe(0);
  });

  it('results stream every job as NDJSON and as CSV, matching the rows; GET shows the top error types', async () => {
    const items = sleepItems(Array.from({ length: 2_300 }, (_, i) => (i % 500 === 7 ? { ms: 0, fatal: true } : i % 700 === 3 ? { ms: 0, failTimes: 9 } : { ms: 0 })));
    const { id } = await h.submit(alice.key, { type: 'sleep', maxRetries: 0, items });
    await h.waitForBatch(alice.key, id);
    const rows = await listJobs(h.sql, id, { afterSeq: -1, limit: 10_000 });

    const nd = await h.request('GET', `/v1/batches/${id}/results`, { key: alice.key });
    expect(nd.status).toBe(200);
    expect(nd.headers.get('content-type')).toContain('application/x-ndjson');
    const lines = (await nd.text()).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual(
      rows.map((r) => ({
        index: r.seq,
        id: r.id,
        status: r.status,
        attempts: r.attempts,
        input: r.input,
        output: r.output,
        lastError: r.errorType ? { type: r.errorType, message: r.errorMessage } : null,
      })),
    );

    const csv = await h.request('GET', `/v1/batches/${id}/results`, { key: alice.key, headers: { Accept: 'text/csv' } });
    expect(csv.headers.get('content-type')).toContain('text/csv');
    const [header, ...records] = parseCsv(await csv.text());
    expect(header).toEqual(['index', 'id', 'status', 'attempts', 'input', 'output', 'error_type', 'error_message']);
    expect(records).toEqual(
      rows.map((r) => [
        String(r.seq),
        r.id,
        r.status,
        String(r.attempts),
        JSON.stringify(r.input),
        r.output === null ? '' : JSON.stringify(r.output),
        r.errorType ?? '',
        r.errorMessage ?? '',
      ]),
    );

    const got = (await (await h.request('GET', `/v1/batches/${id}`, { key: alice.key })).json()) as {
      errors: { type: string; count: number; sample: string }[];
    };
    expect(got.errors.map((e) => [e.type, e.count])).toEqual([
      ['FatalJobError', 5],
      ['TransientJobError', 4],
    ]);
    expect(got.errors[0]!.sample).toContain('fatal');
  });

  it('events: SSE delivers progress and closes with the terminal event', async () => {
    const { id } = await h.submit(alice.key, { type: 'sleep', concurrency: 2, items: sleepItems(Array.from({ length: 12 }, () => ({ ms: 150 }))) });
    const res = await h.request('GET', `/v1/batches/${id}/events`, { key: alice.key });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const events = (await res.text())
      .split('\n\n')
      .filter((block) => block.includes('data:'))
      .map((block) => {
        const field = (name: string) => block.split('\n').find((l) => l.startsWith(`${name}:`))?.slice(name.length + 1).trim();
        return { event: field('event'), data: JSON.parse(field('data')!) as { status: string; counters: { succeeded: number }; etaSeconds: number | null } };
      });
    expect(events.length).toBeGreaterThanOrEqual(2);
    expect(events[0]!.event).toBe('progress');
    expect(events.at(-1)).toMatchObject({ event: 'end', data: { status: 'completed', counters: { succeeded: 12 }, etaSeconds: 0 } });
    expect(events.slice(0, -1).every((e) => e.event === 'progress')).toBe(true);
  });
});

describe('validation and tenancy', () => {
  it('every new route refuses another tenant’s batch with 404', async () => {
    const { id } = await h.submit(alice.key, { type: 'sleep', items: sleepItems([{ ms: 0, failTimes: 1 }]), maxRetries: 0 });
    await h.waitForBatch(alice.key, id);
    const routes: [string, string, unknown?][] = [
      ['POST', `/v1/batches/${id}/cancel`],
      ['POST', `/v1/batches/${id}/pause`],
      ['POST', `/v1/batches/${id}/resume`],
      ['PATCH', `/v1/batches/${id}`, { concurrency: 2 }],
      ['POST', `/v1/batches/${id}/retry`, {}],
      ['GET', `/v1/batches/${id}/results`],
      ['GET', `/v1/batches/${id}/events`],
      ['DELETE', `/v1/batches/${id}`],
    ];
    for (const [method, path, json] of routes) {
      const res = await h.request(method, path, { key: bob.key, ...(json !== undefined ? { json } : {}) });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
    }
    const bobs = (await (await h.request('GET', '/v1/batches?limit=200', { key: bob.key })).json()) as { items: { id: string }[] };
    expect(bobs.items.map((b) => b.id)).not.toContain(id);
    // Alice's batch is untouched and still hers.
    expect((await h.request('GET', `/v1/batches/${id}`, { key: alice.key })).status).toBe(200);
  });

  it('rejects bad control input with 400', async () => {
    const { id } = await h.submit(alice.key, { type: 'sleep', items: sleepItems([{ ms: 0 }]) });
    expect((await h.request('PATCH', `/v1/batches/${id}`, { key: alice.key, json: { concurrency: 0 } })).status).toBe(400);
    expect((await h.request('POST', `/v1/batches/${id}/retry`, { key: alice.key, json: { errorType: '' } })).status).toBe(400);
    expect((await h.request('POST', '/v1/batches', { key: alice.key, json: { type: 'sleep', toleratedFailures: '150%', items: sleepItems([{ ms: 0 }]) } })).status).toBe(400);
    expect((await h.request('POST', '/v1/batches', { key: alice.key, json: { type: 'sleep', toleratedFailures: -1, items: sleepItems([{ ms: 0 }]) } })).status).toBe(400);
    expect((await h.request('GET', `/v1/batches/${id}/results?format=xml`, { key: alice.key })).status).toBe(400);
  });
});
