/**
 * The per-tenant cap's slot counter under concurrency: many holders acquiring at once
 * never get more than the cap in total, releases give slots back, and a lapsed lease
 * (a dead worker's) is reclaimed by the next acquire that finds the tenant full. The
 * workers' pools (per-activity attempts) hand out no more than they lease, and give
 * unused slots back.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { setMaxJobsInFlight } from '../../db/tenant-settings.js';
import { acquireSlots, getSlotState, reclaimExpired, releaseSlots, renewLease } from '../../db/tenant-slots.js';
import { closeSlotPools, slotPool } from '../../activities/tenant-cap.js';
import { waitFor } from '../support/batch-control.js';
import { createHarness, type Harness } from '../support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness({ worker: false });
});
afterAll(() => h?.close());

const leases = (tenantId: string) =>
  h.sql<{ holder: string; slots: number }[]>`
    select holder, slots
    from tenant_slot_leases
    where tenant_id = ${tenantId}
    order by holder
  `;

const leasedTotal = async (tenantId: string) => (await leases(tenantId)).reduce((n, l) => n + l.slots, 0);

it('never grants more than the cap in total to many concurrent callers, and keeps the counter equal to the leases', async () => {
  const t = await h.tenant();
  await setMaxJobsInFlight(h.sql, t.id, 10);
  const grants = await Promise.all(
    Array.from({ length: 40 }, (_, i) => acquireSlots(h.sql, { tenantId: t.id, holder: `h${i % 20}`, want: 1 + (i % 3), ttlMs: 60_000, defaultCap: 1000 })),
  );
  expect(grants.reduce((a, b) => a + b, 0)).toBe(10);
  expect(grants.every((g) => g >= 0 && g <= 3)).toBe(true);
  expect(await getSlotState(h.sql, t.id)).toEqual({ used: 10, maxJobsInFlight: 10 });
  expect(await leasedTotal(t.id)).toBe(10);

  // Full: nothing more, whoever asks.
  expect(await acquireSlots(h.sql, { tenantId: t.id, holder: 'late', want: 5, ttlMs: 60_000, defaultCap: 1000 })).toBe(0);

  // Concurrent releases (some twice, some partial) and acquires still leave counter = sum of leases <= cap.
  const holders = (await leases(t.id)).map((l) => l.holder);
  await Promise.all([
    ...holders.map((holder) => releaseSlots(h.sql, t.id, holder)),
    ...holders.map((holder) => releaseSlots(h.sql, t.id, holder, 1)),
    ...Array.from({ length: 20 }, (_, i) => acquireSlots(h.sql, { tenantId: t.id, holder: `again${i}`, want: 2, ttlMs: 60_000, defaultCap: 1000 })),
  ]);
  const state = await getSlotState(h.sql, t.id);
  expect(state.used).toBe(await leasedTotal(t.id));
  expect(state.used).toBeLessThanOrEqual(10);
});

it('gives slots back on release, partially or all, and ignores unknown holders', async () => {
  const t = await h.tenant();
  // No settings row: the default cap applies.
  const acquire = (holder: string, want: number) => acquireSlots(h.sql, { tenantId: t.id, holder, want, ttlMs: 60_000, defaultCap: 4 });
  expect(await acquire('a', 3)).toBe(3);
  expect(await acquire('b', 3)).toBe(1);
  expect(await acquire('a', 1)).toBe(0);

  expect(await releaseSlots(h.sql, t.id, 'a', 1)).toBe(1);
  expect(await leases(t.id)).toEqual([
    { holder: 'a', slots: 2 },
    { holder: 'b', slots: 1 },
  ]);
  expect(await acquire('b', 5)).toBe(1);
  expect(await releaseSlots(h.sql, t.id, 'a')).toBe(2);
  expect(await releaseSlots(h.sql, t.id, 'a')).toBe(0);
  expect(await releaseSlots(h.sql, t.id, 'nobody', 3)).toBe(0);
  expect(await releaseSlots(h.sql, t.id, 'b', 10)).toBe(2);
  expect(await getSlotState(h.sql, t.id)).toEqual({ used: 0, maxJobsInFlight: null });
  expect(await leases(t.id)).toEqual([]);
});

it("reclaims a lapsed lease when the tenant is full, and a lowered cap grants nothing until it is under it", async () => {
  const t = await h.tenant();
  const acquire = (holder: string, want: number, ttlMs = 60_000) => acquireSlots(h.sql, { tenantId: t.id, holder, want, ttlMs, defaultCap: 5 });
  expect(await acquire('dead', 5, 1)).toBe(5);
  await new Promise((r) => setTimeout(r, 20));
  // A renewal after the lease lapsed but before it was reclaimed still holds.
  expect(await renewLease(h.sql, t.id, 'dead', 1)).toBe(true);
  await new Promise((r) => setTimeout(r, 20));
  expect(await acquire('alive', 2)).toBe(2);
  expect(await leases(t.id)).toEqual([{ holder: 'alive', slots: 2 }]);
  expect(await renewLease(h.sql, t.id, 'dead', 60_000)).toBe(false);
  expect(await reclaimExpired(h.sql, t.id)).toBe(0);

  await setMaxJobsInFlight(h.sql, t.id, 1);
  expect(await acquire('other', 1)).toBe(0);
  expect(await getSlotState(h.sql, t.id)).toEqual({ used: 2, maxJobsInFlight: 1 });
  await releaseSlots(h.sql, t.id, 'alive', 1);
  expect(await acquire('other', 1)).toBe(0);
  await releaseSlots(h.sql, t.id, 'alive');
  expect(await acquire('other', 3)).toBe(1);
});

it("lets attempts on two workers' pools hold at most the cap at once, and gives unused slots back once idle", async () => {
  const t = await h.tenant();
  await setMaxJobsInFlight(h.sql, t.id, 6);
  const pools = [slotPool(h.sql, { tenantId: t.id, defaultCap: 1000 }), slotPool(h.sql, { tenantId: t.id, defaultCap: 1000 })];
  let inUse = 0;
  let most = 0;
  let refused = 0;
  // 80 attempts, 40 a worker, each retrying after a refusal as a throttled dispatch is redispatched.
  await Promise.all(
    Array.from({ length: 80 }, async (_, i) => {
      const pool = pools[i % 2]!;
      for (let tries = 0; ; tries++) {
        if (tries > 5_000) throw new Error('no slot came free in 5,000 tries');
        if (!(await pool.take())) {
          refused++;
          await new Promise((r) => setTimeout(r, 2));
          continue;
        }
        most = Math.max(most, ++inUse);
        expect(pools[0]!.inUse + pools[1]!.inUse).toBeLessThanOrEqual(6);
        const state = await getSlotState(h.sql, t.id);
        expect(state.used).toBeLessThanOrEqual(6);
        await new Promise((r) => setTimeout(r, 1));
        inUse--;
        pool.give();
        return;
      }
    }),
  );
  expect(most).toBeGreaterThan(1);
  expect(most).toBeLessThanOrEqual(6);
  expect(refused).toBeGreaterThan(0);
  // Nothing in use: the pools give their slots back.
  await waitFor('the pools idle and empty', async () => (await getSlotState(h.sql, t.id)).used === 0 && (await leasedTotal(t.id)) === 0, 5_000);
  expect(pools.map((p) => p.leased)).toEqual([0, 0]);
});

it('sees a lowered cap while its attempts keep coming: no more than the new cap in use after a tick', async () => {
  const t = await h.tenant();
  await setMaxJobsInFlight(h.sql, t.id, 8);
  const pool = slotPool(h.sql, { tenantId: t.id, defaultCap: 1000 });
  let stop = false;
  let peakAfterLowered = 0;
  let lowered = false;
  // Eight attempts at a time, without a pause between them: the pool is never idle.
  const loops = Array.from({ length: 8 }, async () => {
    while (!stop) {
      if (!(await pool.take())) {
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      await new Promise((r) => setTimeout(r, 2));
      if (lowered) peakAfterLowered = Math.max(peakAfterLowered, pool.inUse);
      pool.give();
    }
  });
  await waitFor('more than the new cap leased', async () => pool.leased > 2, 5_000);
  await setMaxJobsInFlight(h.sql, t.id, 2);
  await waitFor('the pool down to the new cap', async () => pool.leased <= 2 && (await getSlotState(h.sql, t.id)).used <= 2, 5_000);
  lowered = true;
  await new Promise((r) => setTimeout(r, 300));
  stop = true;
  await Promise.all(loops);
  expect(peakAfterLowered).toBeGreaterThan(0);
  expect(peakAfterLowered).toBeLessThanOrEqual(2);
  await waitFor('every slot back', async () => (await getSlotState(h.sql, t.id)).used === 0, 5_000);
});

it("gives a stopping worker's pool slots back at once when the pools close", async () => {
  const t = await h.tenant();
  await setMaxJobsInFlight(h.sql, t.id, 10);
  // No tick in this test: only close gives the slots back.
  const pool = slotPool(h.sql, { tenantId: t.id, defaultCap: 1000, tickMs: 600_000 });
  expect(await Promise.all([pool.take(), pool.take(), pool.take()])).toEqual([true, true, true]);
  for (let i = 0; i < 3; i++) pool.give();
  expect((await getSlotState(h.sql, t.id)).used).toBe(pool.leased);
  expect(pool.leased).toBeGreaterThanOrEqual(3);
  await closeSlotPools();
  expect(await getSlotState(h.sql, t.id)).toEqual({ used: 0, maxJobsInFlight: 10 });
  expect(await leases(t.id)).toEqual([]);
  expect(pool.leased).toBe(0);
});

it('a pool whose lease statement goes unanswered fails that take with StatementTimeout, and takes again under a new holder name', async () => {
  const t = await h.tenant();
  await setMaxJobsInFlight(h.sql, t.id, 4);
  const pool = slotPool(h.sql, { tenantId: t.id, defaultCap: 1000, holder: `pool/stuck-${t.id}`, statementTimeoutMs: 300 });
  // The tenant's first slot ever creates its counter row; then another session holds that row's lock.
  expect(await pool.take()).toBe(true);
  pool.give();
  await waitFor('the slot given back', async () => (await leasedTotal(t.id)) === 0, 5_000);
  let unlock!: () => void;
  const locked = new Promise<void>((resolve, reject) => {
    h.sql
      .begin(async (tx) => {
        await tx`select used from tenant_slots where tenant_id = ${t.id} for update`;
        resolve();
        await new Promise<void>((r) => (unlock = r));
      })
      .catch(reject);
  });
  await locked;
  try {
    // Before: the lease's statement waited on the lock, and every later take behind it.
    await expect(pool.take()).rejects.toMatchObject({ type: 'StatementTimeout' });
  } finally {
    unlock();
  }
  // The statement left waiting does run once the lock goes, under the old name; the pool goes on under a new one.
  expect(await pool.take()).toBe(true);
  const holders = (await leases(t.id)).map((l) => l.holder);
  expect(holders).toContain(`pool/stuck-${t.id}#1`);
  pool.give();
  await closeSlotPools();
});
