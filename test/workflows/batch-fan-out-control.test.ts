/**
 * Control of a fanned-out batch (more than CHUNK_RANGE_SIZE chunked jobs, run by batchRangeWorkflow
 * children): pause and resume reach the children, cancel stops them and their running
 * chunks, and a crossed failure tolerance in one range stops the whole batch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHUNK_RANGE_SIZE } from '../../workflows/batch.js';
import type { RangeProgress } from '../../workflows/range.js';
import { createHarness, type Harness, type TestTenant } from '../support/harness.js';
import { countersOf, expectSettledCounters, waitFor } from '../support/batch-control.js';

let h: Harness;
let t: TestTenant;
beforeAll(async () => {
  h = await createHarness();
  t = await h.tenant();
});
afterAll(() => h?.close());

const TOTAL = CHUNK_RANGE_SIZE + 2_000;
const upload = async (query: string, input: unknown) => {
  const res = await h.request('POST', `/v1/batches?${query}`, {
    key: t.key,
    body: `${JSON.stringify({ input })}\n`.repeat(TOTAL),
    headers: { 'Content-Type': 'application/x-ndjson' },
  });
  expect(res.status).toBe(202);
  return ((await res.json()) as { id: string }).id;
};
const childIds = (id: string) => [`batch-${id}-range-0`, `batch-${id}-range-1`];
const rangeProgress = (childId: string) => h.client.workflow.getHandle(childId).query<RangeProgress>('progress');

describe('fanned-out batch control', () => {
  it('pause reaches every range, resume restarts them, cancel ends the batch with exact counters', async () => {
    const id = await upload('type=sleep&concurrency=8&mode=chunk', { ms: 20 });
    await h.waitForBatch(t.key, id, { until: (b) => b.counters.succeeded >= 50 });

    expect((await h.request('POST', `/v1/batches/${id}/pause`, { key: t.key })).status).toBe(200);
    for (const child of childIds(id)) {
      await waitFor(`${child} paused and drained`, async () => {
        const p = await rangeProgress(child);
        return p.paused && p.running === 0;
      });
    }
    const held = await countersOf(h, id);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await countersOf(h, id)).toEqual(held);

    expect((await h.request('POST', `/v1/batches/${id}/resume`, { key: t.key })).status).toBe(200);
    await h.waitForBatch(t.key, id, { until: (b) => b.counters.succeeded > held.succeeded });
    for (const child of childIds(id)) expect((await rangeProgress(child)).paused).toBe(false);

    expect((await h.request('POST', `/v1/batches/${id}/cancel`, { key: t.key })).status).toBe(202);
    const done = await h.waitForBatch(t.key, id);
    expect(done.status).toBe('cancelled');
    expect(done.counters.succeeded + done.counters.cancelled).toBe(TOTAL);
    expect(done.counters.cancelled).toBeGreaterThan(0);
    await expectSettledCounters(h, id);
    for (const child of childIds(id)) {
      const d = await waitFor(`${child} closed`, async () => {
        const desc = await h.client.workflow.getHandle(child).describe();
        return desc.status.name !== 'RUNNING' && desc;
      });
      expect(d.status.name).toBe('CANCELLED');
    }
  });

  it('a range that crosses the failure tolerance stops the whole batch: failed, the rest cancelled', async () => {
    const id = await upload('type=sleep&concurrency=8&mode=chunk&toleratedFailures=100', { ms: 0, fatal: true });
    const done = await h.waitForBatch(t.key, id);
    expect(done.status).toBe('failed');
    expect(done.counters.failed).toBeGreaterThan(100);
    expect(done.counters.cancelled).toBeGreaterThan(0);
    expect(done.counters.failed + done.counters.cancelled).toBe(TOTAL);
    await expectSettledCounters(h, id);
  });
});
