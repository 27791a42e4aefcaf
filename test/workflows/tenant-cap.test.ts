/**
 * The per-tenant cap on jobs in flight, end to end. A test-only job type measures real
 * concurrency in PostgreSQL (a probe row per tenant: `current` while running, `peak`
 * the most seen at once). Assertions are on counters, statuses and peaks, not on time.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { z } from 'zod';
import type { Db } from '../../db/client.js';
import { setMaxJobsInFlight } from '../../db/tenant-settings.js';
import { defineJobType } from '../../job-types/job-type.js';
import { builtInJobTypes, createRegistry } from '../../job-types/registry.js';
import { waitFor } from '../support/batch-control.js';
import { createHarness, sleepItems, type Harness } from '../support/harness.js';

const PROBE = 'test.cap-probe';

/** `sql` is the harness's pool, which exists only once the harness (and its registry) does. */
function probeJobType(db: () => Db) {
  return defineJobType({
    name: PROBE,
    description: 'Counts itself in flight per tenant while it sleeps (tenant cap tests).',
    input: z.object({ ms: z.int().min(0).max(10_000) }).strict(),
    policy: {
      mode: 'chunk',
      maxRetries: 0,
      backoff: { initialIntervalMs: 100, coefficient: 2, maximumIntervalMs: 1_000 },
      timeoutMs: 60_000,
      heartbeatTimeoutMs: 10_000,
    },
    async handler(input, ctx) {
      const sql = db();
      await sql`
        insert into cap_probe (tenant_id, current, peak, runs)
        values (${ctx.tenantId}, 1, 1, 1)
        on conflict (tenant_id) do update
        set current = cap_probe.current + 1,
          peak = greatest(cap_probe.peak, cap_probe.current + 1),
          runs = cap_probe.runs + 1
      `;
      try {
        await delay(input.ms, undefined, { signal: ctx.signal });
      } finally {
        await sql`
          update cap_probe
          set current = current - 1
          where tenant_id = ${ctx.tenantId}
        `;
      }
      return { ok: true };
    },
  });
}

let h: Harness;
beforeAll(async () => {
  h = await createHarness({ registry: createRegistry([...builtInJobTypes, probeJobType(() => h.sql)]) });
  await h.sql`
    create table cap_probe (
      tenant_id uuid primary key,
      current integer not null,
      peak integer not null,
      runs integer not null
    )
  `;
});
afterAll(() => h?.close());

const probe = async (tenantId: string) => {
  const [row] = await h.sql<{ current: number; peak: number; runs: number }[]>`
    select current, peak, runs
    from cap_probe
    where tenant_id = ${tenantId}
  `;
  return row;
};

const slotsOf = async (tenantId: string) => {
  const [row] = await h.sql<{ used: number; leases: number }[]>`
    select coalesce((select used from tenant_slots where tenant_id = ${tenantId}), 0) as used,
      (select count(*)::int from tenant_slot_leases where tenant_id = ${tenantId}) as leases
  `;
  return row!;
};

it('holds a tenant to its cap across a chunked, a per-activity and a local batch at once, and all complete exactly', async () => {
  const a = await h.tenant('capped');
  await setMaxJobsInFlight(h.sql, a.id, 10);
  const items = (n: number) => Array.from({ length: n }, () => ({ input: { ms: 60 } }));
  const [chunked, perActivity, local] = await Promise.all([
    h.submit(a.key, { type: PROBE, mode: 'chunk', concurrency: 50, items: items(300) }),
    h.submit(a.key, { type: PROBE, mode: 'activity', concurrency: 50, items: items(150) }),
    h.submit(a.key, { type: PROBE, mode: 'local', concurrency: 50, items: items(100) }),
  ]);
  expect([chunked.status, perActivity.status, local.status]).toEqual([202, 202, 202]);
  const [c, p, l] = await Promise.all([h.waitForBatch(a.key, chunked.id), h.waitForBatch(a.key, perActivity.id), h.waitForBatch(a.key, local.id)]);
  expect(c.status).toBe('completed');
  expect(c.counters).toMatchObject({ total: 300, succeeded: 300, failed: 0, cancelled: 0 });
  expect(p.status).toBe('completed');
  expect(p.counters).toMatchObject({ total: 150, succeeded: 150, failed: 0, cancelled: 0 });
  expect(l.status).toBe('completed');
  expect(l.counters).toMatchObject({ total: 100, succeeded: 100, failed: 0, cancelled: 0 });

  const seen = await probe(a.id);
  // Every job ran once (a throttled dispatch is not an attempt), never more than 10 at once,
  // and the cap was reached rather than respected by accident.
  expect(seen?.runs).toBe(550);
  expect(seen?.current).toBe(0);
  expect(seen?.peak).toBeLessThanOrEqual(10);
  expect(seen?.peak).toBeGreaterThanOrEqual(2);
  const attempts = await h.sql<{ attempts: number; jobs: number }[]>`
    select attempts, count(*)::int as jobs
    from jobs
    where batch_id in ${h.sql([chunked.id, perActivity.id, local.id])}
    group by attempts
  `;
  expect(attempts).toEqual([{ attempts: 1, jobs: 550 }]);
  // Every slot went back: a chunk's when it ended, the worker pool's for per-activity
  // attempts once it went unused (a tenth of a second).
  await waitFor('every slot back', async () => {
    const slots = await slotsOf(a.id);
    return slots.used === 0 && slots.leases === 0;
  }, 10_000);
});

it("finishes another tenant's 10-job batch while a capped tenant's big chunked batch keeps running", async () => {
  const big = await h.tenant('big-capped');
  const small = await h.tenant('small');
  await setMaxJobsInFlight(h.sql, big.id, 4);
  const total = 20_000;
  const { id: bigId, status } = await h.submit(big.key, {
    type: 'sleep',
    mode: 'chunk',
    concurrency: 100,
    items: sleepItems(Array.from({ length: total }, () => ({ ms: 3 }))),
  });
  expect(status).toBe(202);
  await h.waitForBatch(big.key, bigId, { until: (b) => b.counters.succeeded >= 100 });

  const { id: smallId } = await h.submit(small.key, {
    type: 'sleep',
    concurrency: 10,
    items: sleepItems(Array.from({ length: 10 }, () => ({ ms: 5 }))),
  });
  const done = await h.waitForBatch(small.key, smallId);
  const bigNow = await h.waitForBatch(big.key, bigId, { until: () => true });
  expect(done.status).toBe('completed');
  expect(done.counters).toMatchObject({ total: 10, succeeded: 10 });
  expect(bigNow.status).toBe('running');
  expect(bigNow.counters.succeeded).toBeLessThan(total);
  // The big batch holds at most its cap in slots while it runs.
  expect((await slotsOf(big.id)).used).toBeLessThanOrEqual(4);

  const final = await h.waitForBatch(big.key, bigId);
  expect(final.status).toBe('completed');
  expect(final.counters).toMatchObject({ total, succeeded: total, failed: 0, cancelled: 0 });
  expect(await slotsOf(big.id)).toEqual({ used: 0, leases: 0 });
});
