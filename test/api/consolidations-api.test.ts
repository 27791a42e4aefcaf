import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consolidationScheduleId } from '../../lib/names.js';
import { listConsolidations, seedFinishedBatch, waitForConsolidation, type ConsolidationBody } from '../support/consolidation.js';
import { createHarness, type Harness, type TestTenant } from '../support/harness.js';

let h: Harness;
let alice: TestTenant;
let bob: TestTenant;
beforeAll(async () => {
  h = await createHarness();
  alice = await h.tenant('alice');
  bob = await h.tenant('bob');
});
afterAll(async () => {
  for (const t of [alice, bob]) await h.client.schedule.getHandle(consolidationScheduleId(t.id, 'weekly')).delete().catch(() => {});
  await h?.close();
});

async function runManual(t: TestTenant): Promise<ConsolidationBody> {
  const res = await h.request('POST', '/v1/consolidations', { key: t.key, json: {} });
  expect(res.status).toBe(202);
  expect(res.headers.get('location')).toMatch(/^\/v1\/consolidations\//);
  return waitForConsolidation(h, t.key, ((await res.json()) as ConsolidationBody).id);
}

describe('listing', () => {
  it('pages newest first with a keyset cursor and filters by status and trigger', async () => {
    const t = await h.tenant();
    const made: string[] = [];
    for (let i = 0; i < 3; i++) made.push((await runManual(t)).id);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await h.request('GET', `/v1/consolidations?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { key: t.key });
      expect(res.status).toBe(200);
      const page = (await res.json()) as { items: ConsolidationBody[]; nextCursor: string | null };
      seen.push(...page.items.map((c) => c.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(2);
    expect(seen).toEqual([...made].reverse());
    expect(await listConsolidations(h, t.key, '?status=completed&trigger=manual')).toHaveLength(3);
    expect(await listConsolidations(h, t.key, '?status=failed')).toEqual([]);
    expect(await listConsolidations(h, t.key, '?trigger=scheduled')).toEqual([]);
    expect((await h.request('GET', '/v1/consolidations?cursor=bogus', { key: t.key })).status).toBe(400);
    expect((await h.request('GET', '/v1/consolidations?status=done', { key: t.key })).status).toBe(400);
  });
});

describe('tenancy', () => {
  it("hides another tenant's consolidations, schedules, stats and settings", async () => {
    await seedFinishedBatch(h, alice.id, { completedAt: new Date('2026-02-01T12:00:00Z'), jobs: [{ status: 'succeeded', attempts: 1, durationMs: 10 }] });
    const mine = await runManual(alice);
    expect(mine.status).toBe('completed');

    expect((await h.request('GET', `/v1/consolidations/${mine.id}`, { key: bob.key })).status).toBe(404);
    expect((await listConsolidations(h, bob.key)).map((c) => c.id)).not.toContain(mine.id);
    expect(((await (await h.request('GET', '/v1/stats', { key: bob.key })).json()) as { items: unknown[] }).items).toEqual([]);
    expect(((await (await h.request('GET', '/v1/stats', { key: alice.key })).json()) as { items: unknown[] }).items).toHaveLength(1);

    await h.request('PATCH', '/v1/settings', { key: alice.key, json: { consolidationThreshold: 100, retentionDays: 7 } });
    expect(await (await h.request('GET', '/v1/settings', { key: bob.key })).json()).toEqual({ consolidationThreshold: null, retentionDays: null, maxJobsInFlight: 1000 });

    const put = await h.request('PUT', '/v1/consolidation-schedules/weekly', { key: alice.key, json: { cron: '0 6 * * 1' } });
    expect(put.status).toBe(201);
    expect(await (await h.request('GET', '/v1/consolidation-schedules', { key: bob.key })).json()).toEqual({ items: [] });
    for (const [method, path] of [
      ['GET', '/v1/consolidation-schedules/weekly'],
      ['DELETE', '/v1/consolidation-schedules/weekly'],
      ['POST', '/v1/consolidation-schedules/weekly/trigger'],
    ] as const) {
      const res = await h.request(method, path, { key: bob.key });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
    }
    const backfill = await h.request('POST', '/v1/consolidation-schedules/weekly/backfill', {
      key: bob.key,
      json: { start: '2026-01-01T00:00:00Z', end: '2026-01-08T00:00:00Z' },
    });
    expect(backfill.status).toBe(404);

    // The same name is bob's own schedule, under another Temporal id; alice's is untouched.
    const bobs = await h.request('PUT', '/v1/consolidation-schedules/weekly', { key: bob.key, json: { cron: '0 9 * * 5' } });
    expect(bobs.status).toBe(201);
    expect(((await bobs.json()) as { scheduleId: string }).scheduleId).toBe(consolidationScheduleId(bob.id, 'weekly'));
    const alices = (await (await h.request('GET', '/v1/consolidation-schedules/weekly', { key: alice.key })).json()) as { cron: string; scheduleId: string };
    expect(alices).toMatchObject({ cron: '0 6 * * 1', scheduleId: consolidationScheduleId(alice.id, 'weekly') });
    expect((await h.request('GET', '/v1/consolidation-schedules/weekly', { key: bob.key })).status).toBe(200);
  });
});

describe('validation', () => {
  it('rejects bad settings, schedule names and backfill ranges with 400', async () => {
    const t = await h.tenant();
    const cases: [string, string, unknown][] = [
      ['PATCH', '/v1/settings', { consolidationThreshold: 0 }],
      ['PATCH', '/v1/settings', {}],
      ['PATCH', '/v1/settings', { retentionDays: 'long' }],
      // The cap on jobs in flight is the operators' (PATCH /v1/tenants/:id), not the tenant's.
      ['PATCH', '/v1/settings', { maxJobsInFlight: 5000 }],
      ['PUT', '/v1/consolidation-schedules/Bad Name', { cron: '0 3 * * *' }],
      ['PUT', '/v1/consolidation-schedules/ok', { cron: '0 3 * * *', extra: true }],
      ['POST', '/v1/consolidation-schedules/ok/backfill', { start: '2026-01-02T00:00:00Z', end: '2026-01-01T00:00:00Z' }],
      ['GET', '/v1/stats?from=yesterday', undefined],
    ];
    for (const [method, path, json] of cases) {
      const res = await h.request(method, path, { key: t.key, ...(json === undefined ? {} : { json }) });
      expect(res.status, `${method} ${path} ${JSON.stringify(json)}`).toBe(400);
    }
    expect(await (await h.request('GET', '/v1/settings', { key: t.key })).json()).toEqual({ consolidationThreshold: null, retentionDays: null, maxJobsInFlight: 1000 });
    const cleared = await h.request('PATCH', '/v1/settings', { key: t.key, json: { retentionDays: 5 } });
    expect(await cleared.json()).toEqual({ consolidationThreshold: null, retentionDays: 5, maxJobsInFlight: 1000 });
    const both = await h.request('PATCH', '/v1/settings', { key: t.key, json: { consolidationThreshold: 9, retentionDays: null } });
    expect(await both.json()).toEqual({ consolidationThreshold: 9, retentionDays: null, maxJobsInFlight: 1000 });
  });

  it('answers 401 without a key', async () => {
    expect((await h.request('GET', '/v1/consolidations')).status).toBe(401);
    expect((await h.request('GET', '/v1/consolidation-schedules')).status).toBe(401);
  });
});
