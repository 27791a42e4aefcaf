/**
 * POST /v1/batches/:id/retry: failed jobs run again with a fresh retry budget, attempts
 * accumulate, the batch goes back to running and ends in a new outcome; by error type,
 * other failures are left alone. Both execution modes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getBatchById } from '../../db/batches.js';
import { listJobs } from '../../db/jobs.js';
import { createHarness, sleepItems, type Harness, type TestTenant } from '../support/harness.js';
import { expectSettledCounters } from '../support/batch-control.js';

let h: Harness;
let t: TestTenant;
beforeAll(async () => {
  h = await createHarness();
  t = await h.tenant();
});
afterAll(() => h?.close());

const retry = (id: string, json: unknown = {}) => h.request('POST', `/v1/batches/${id}/retry`, { key: t.key, json });
const jobsOf = (id: string) => listJobs(h.sql, id, { afterSeq: -1, limit: 1_000 });

describe.each(['activity', 'chunk', 'local'] as const)('redrive in %s mode', (mode) => {
  const submit = (body: Record<string, unknown>) => h.submit(t.key, { ...body, mode, backoff: { initialIntervalMs: 10 } });

  it('a partial batch whose failures were transient ends completed; attempts accumulate and history is kept', async () => {
    // maxRetries 1: two attempts per run. failTimes 3 needs a fourth attempt: two more after the redrive.
    const { id } = await submit({ type: 'sleep', maxRetries: 1, items: sleepItems([{ ms: 0 }, { ms: 0, failTimes: 3 }, { ms: 0, failTimes: 2 }]) });
    const first = await h.waitForBatch(t.key, id);
    expect(first.status).toBe('partial');
    expect(first.counters).toMatchObject({ succeeded: 1, failed: 2 });

    const res = await retry(id);
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ id, status: 'running', retried: 2, redrives: 1, counters: { succeeded: 1, failed: 0 } });
    const done = await h.waitForBatch(t.key, id);
    expect(done.status).toBe('completed');
    expect(done.counters).toEqual({ total: 3, succeeded: 3, failed: 0, cancelled: 0, remaining: 0 });
    const jobs = await jobsOf(id);
    expect(jobs.map((j) => [j.status, j.attempts])).toEqual([
      ['succeeded', 1],
      ['succeeded', 4],
      ['succeeded', 3],
    ]);
    // The last failed attempt's error stays on the row.
    expect(jobs[1]).toMatchObject({ errorType: 'TransientJobError' });
    expect(jobs[1]!.errorMessage).toContain('attempt 3');
    expect(jobs[1]!.output).toEqual({ sleptMs: 0, attempt: 4 });
    await expectSettledCounters(h, id);
    expect((await getBatchById(h.sql, id))!.redrives).toBe(1);
  });

  it('by error type: only those failures run again, the others are left alone', async () => {
    const { id } = await submit({
      type: 'sleep',
      maxRetries: 0,
      items: sleepItems([{ ms: 0 }, { ms: 0, fatal: true }, { ms: 0, failTimes: 1 }, { ms: 0, failTimes: 1 }]),
    });
    expect((await h.waitForBatch(t.key, id)).counters).toMatchObject({ succeeded: 1, failed: 3 });
    const before = await jobsOf(id);

    const res = await retry(id, { errorType: 'TransientJobError' });
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ retried: 2 });
    const done = await h.waitForBatch(t.key, id);
    expect(done.status).toBe('partial');
    expect(done.counters).toEqual({ total: 4, succeeded: 3, failed: 1, cancelled: 0, remaining: 0 });
    const after = await jobsOf(id);
    expect(after[1]).toEqual(before[1]); // the fatal failure, untouched
    expect(after.slice(2).map((j) => [j.status, j.attempts])).toEqual([
      ['succeeded', 2],
      ['succeeded', 2],
    ]);
    await expectSettledCounters(h, id);

    // Nothing of that type is left to retry; a running batch cannot be retried.
    expect((await retry(id, { errorType: 'TransientJobError' })).status).toBe(409);
    const { id: longId } = await submit({ type: 'sleep', items: sleepItems([{ ms: 60_000 }]) });
    expect((await retry(longId)).status).toBe(409);
    expect((await h.request('POST', `/v1/batches/${longId}/cancel`, { key: t.key })).status).toBe(202);
    expect((await h.waitForBatch(t.key, longId)).status).toBe('cancelled');
  });
});
