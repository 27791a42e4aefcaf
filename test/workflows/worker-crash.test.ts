import { afterAll, beforeAll, expect, it } from 'vitest';
import { getBatchById } from '../../db/batches.js';
import { countJobsByStatus, listJobs } from '../../db/jobs.js';
import { createHarness, sleepItems, type Harness } from '../support/harness.js';
import { spawnWorker } from '../support/worker-process.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness({ worker: false });
});
afterAll(() => h?.close());

it.each(['activity', 'chunk', 'local'] as const)('%s mode: a worker killed with SIGKILL mid-batch loses no job and counts none twice', async (mode) => {
  const t = await h.tenant();
  const first = spawnWorker(h);
  await first.ready;
  const total = 40;
  const { id } = await h.submit(t.key, {
    type: 'sleep',
    mode,
    concurrency: 8,
    items: sleepItems(Array.from({ length: total }, () => ({ ms: 400 }))),
  });
  // Kill while jobs are in flight: some done, some running, most still pending.
  const mid = await h.waitForBatch(t.key, id, { until: (b) => b.counters.succeeded >= 8 });
  expect(mid.status).toBe('running');
  first.child.kill('SIGKILL');
  await first.exited;
  const before = await countJobsByStatus(h.sql, id);
  expect(before.succeeded).toBeLessThan(total);
  const runningAtKill = await listJobs(h.sql, id, { afterSeq: -1, limit: total, status: 'running' });

  const second = spawnWorker(h);
  await second.ready;
  try {
    const done = await h.waitForBatch(t.key, id);
    expect(done.status).toBe('completed');
    expect(done.counters).toEqual({ total, succeeded: total, failed: 0, cancelled: 0, remaining: 0 });
    const row = (await getBatchById(h.sql, id))!;
    const counts = await countJobsByStatus(h.sql, id);
    expect(counts).toEqual({ pending: 0, running: 0, succeeded: total, failed: 0, cancelled: 0 });
    expect(row.succeededJobs).toBe(counts.succeeded);
    const jobs = await listJobs(h.sql, id, { afterSeq: -1, limit: total });
    expect(jobs.every((j) => j.attempts >= 1 && j.output !== null)).toBe(true);
    // Jobs that were running when the worker died were tried again on the new one.
    const retried = jobs.filter((j) => runningAtKill.some((r) => r.id === j.id));
    expect(retried.every((j) => j.attempts >= 2)).toBe(true);
  } finally {
    second.child.kill('SIGTERM');
    await second.exited;
  }
});
