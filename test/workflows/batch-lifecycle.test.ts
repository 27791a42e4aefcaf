import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listJobs } from '../../db/jobs.js';
import { getBatchById } from '../../db/batches.js';
import { FailureTypes, SearchAttributes } from '../../lib/names.js';
import { startBatchWorkflow } from '../../temporal/batch-client.js';
import type { BatchProgress } from '../../workflows/index.js';
import { LOCAL_RUN_JOBS } from '../../workflows/local.js';
import { expectSettledCounters } from '../support/batch-control.js';
import { createHarness, sleepItems, type Harness, type TestTenant } from '../support/harness.js';

let h: Harness;
let t: TestTenant;

beforeAll(async () => {
  h = await createHarness();
  t = await h.tenant();
});
afterAll(() => h?.close());

/** Counters on the batch row must equal the job rows, status by status, and add up to the total. */
async function expectCountersMatchRows(batchId: string) {
  const { row, counts } = await expectSettledCounters(h, batchId);
  expect(row.totalJobs).toBe(counts.succeeded + counts.failed + counts.cancelled);
  return row;
}

async function jobsOf(batchId: string) {
  return listJobs(h.sql, batchId, { afterSeq: -1, limit: 10_000 });
}

describe.each(['activity', 'chunk', 'local'] as const)('batch lifecycle in %s mode', (mode) => {
  const submit = (body: Record<string, unknown>) => h.submit(t.key, { ...body, mode });

  it('runs every job and ends completed with exact counters and timings', async () => {
    const { id, status, body } = await submit({
      type: 'sleep',
      concurrency: 5,
      items: sleepItems(Array.from({ length: 25 }, (_, i) => ({ ms: i % 5 }))),
    });
    expect(status).toBe(202);
    expect(body).toMatchObject({ status: 'pending', mode });
    const done = await h.waitForBatch(t.key, id);
    expect(done.status).toBe('completed');
    expect(done.counters).toEqual({ total: 25, succeeded: 25, failed: 0, cancelled: 0, remaining: 0 });
    expect(done.progress).toEqual({ processed: 25, total: 25, percent: 100 });
    expect(done.startedAt).not.toBeNull();
    expect(done.completedAt).not.toBeNull();
    expect(done.durationMs).toBeGreaterThanOrEqual(0);
    await expectCountersMatchRows(id);
    const jobs = await jobsOf(id);
    expect(jobs.every((j) => j.status === 'succeeded' && j.attempts === 1)).toBe(true);
    expect(jobs[3]!.output).toEqual({ sleptMs: 3, attempt: 1 });
  });

  it('a job failing twice with maxRetries 3 succeeds on attempt 3', async () => {
    const { id } = await submit({
      type: 'sleep',
      maxRetries: 3,
      backoff: { initialIntervalMs: 10 },
      items: sleepItems([{ ms: 0, failTimes: 2 }]),
    });
    const done = await h.waitForBatch(t.key, id);
    expect(done.status).toBe('completed');
    const [job] = await jobsOf(id);
    expect(job).toMatchObject({ status: 'succeeded', attempts: 3, errorType: 'TransientJobError' });
    expect(job!.output).toEqual({ sleptMs: 0, attempt: 3 });
    await expectCountersMatchRows(id);
  });

  it('exhausted retries end the job failed with its error kept', async () => {
    const { id } = await submit({
      type: 'sleep',
      maxRetries: 2,
      backoff: { initialIntervalMs: 10 },
      items: sleepItems([{ ms: 0, failTimes: 10 }]),
    });
    const done = await h.waitForBatch(t.key, id);
    expect(done.status).toBe('failed');
    const [job] = await jobsOf(id);
    expect(job).toMatchObject({ status: 'failed', attempts: 3, errorType: 'TransientJobError' });
    expect(job!.errorMessage).toContain('attempt 3');
    await expectCountersMatchRows(id);
  });

  it('a fatal job fails after one attempt', async () => {
    const { id } = await submit({
      type: 'sleep',
      maxRetries: 5,
      items: sleepItems([{ ms: 0, fatal: true }]),
    });
    const done = await h.waitForBatch(t.key, id);
    expect(done.status).toBe('failed');
    const [job] = await jobsOf(id);
    expect(job).toMatchObject({ status: 'failed', attempts: 1, errorType: FailureTypes.FatalJobError });
  });

  it('ends partial when some jobs fail and the others succeed', async () => {
    const { id } = await submit({
      type: 'sleep',
      maxRetries: 1,
      backoff: { initialIntervalMs: 10 },
      items: sleepItems([{ ms: 0 }, { ms: 0, fatal: true }, { ms: 0, failTimes: 1 }, { ms: 0, failTimes: 5 }]),
    });
    const done = await h.waitForBatch(t.key, id);
    expect(done.status).toBe('partial');
    expect(done.counters).toMatchObject({ total: 4, succeeded: 2, failed: 2 });
    const jobs = await jobsOf(id);
    expect(jobs.map((j) => [j.status, j.attempts])).toEqual([
      ['succeeded', 1],
      ['failed', 1],
      ['succeeded', 2],
      ['failed', 2],
    ]);
    await expectCountersMatchRows(id);
  });

  it('starting the same batch workflow twice is a no-op', async () => {
    const { id } = await submit({ type: 'sleep', items: sleepItems([{ ms: 0 }, { ms: 0 }]) });
    const row = (await getBatchById(h.sql, id))!;
    await startBatchWorkflow(h.temporal, row, t.name);
    await startBatchWorkflow(h.temporal, row, t.name);
    const done = await h.waitForBatch(t.key, id);
    expect(done.counters).toMatchObject({ total: 2, succeeded: 2 });
    const runs = [];
    for await (const wf of h.client.workflow.list({ query: `WorkflowId = '${row.workflowId}'` })) runs.push(wf);
    expect(runs).toHaveLength(1);
    await expectCountersMatchRows(id);
  });

  it.runIf(mode === 'chunk')('a small batch runs its jobs in startBatch: one local activity, its retries on durable timers', async () => {
    const { id, body } = await submit({
      type: 'sleep',
      maxRetries: 2,
      backoff: { initialIntervalMs: 10 },
      items: sleepItems([{ ms: 0 }, { ms: 0, failTimes: 1 }, { ms: 0 }]),
    });
    const done = await h.waitForBatch(t.key, id);
    expect(done.counters).toMatchObject({ total: 3, succeeded: 3, failed: 0 });
    expect((await jobsOf(id)).map((j) => j.attempts)).toEqual([1, 2, 1]);
    await expectCountersMatchRows(id);
    // Local activities leave a marker each, naming the activity: startBatch ran the three
    // jobs, one runChunk the retried one (after its timer), and finishBatch ended the
    // batch; nothing went through the task queue. The markers are recorded when the
    // workflow task that ran them completes, which can be after the batch's row has ended.
    const handle = h.client.workflow.getHandle(body.workflowId as string);
    await handle.result();
    const { events } = await handle.fetchHistory();
    const activities = (events ?? []).flatMap((e) => {
      const data = e.markerRecordedEventAttributes?.details?.data?.payloads?.[0]?.data;
      return data ? [(JSON.parse(Buffer.from(data).toString()) as { activity_type: string }).activity_type] : [];
    });
    expect(activities).toEqual(['startBatch', 'runChunk', 'finishBatch']);
    expect((events ?? []).filter((e) => e.timerStartedEventAttributes)).toHaveLength(1);
    expect((events ?? []).some((e) => e.activityTaskScheduledEventAttributes)).toBe(false);
  });

  it('answers the progress query while running and shows search attributes', async () => {
    // In local mode a query reaches the run between two waves of about a second each
    // (workflows/local.ts): enough jobs that one comes before the last wave, under load too.
    const n = mode === 'local' ? 60 : 20;
    const { id, body } = await submit({
      type: 'sleep',
      concurrency: 2,
      items: sleepItems(Array.from({ length: n }, () => ({ ms: 100 }))),
    });
    const handle = h.client.workflow.getHandle(body.workflowId as string);
    await h.waitForBatch(t.key, id, { until: (b) => b.counters.succeeded >= 1 && b.status === 'running' });
    const progress = await handle.query<BatchProgress>('progress');
    expect(progress).toMatchObject({ batchId: id, status: 'running', total: n, mode });
    // In local mode a query reaches the run between two waves (workflows/local.ts), when none is in flight.
    if (mode !== 'local') expect(progress.running).toBeGreaterThanOrEqual(1);
    expect(progress.running).toBeLessThanOrEqual(2);
    // Per activity, the workflow sees each job end; chunked, it sees a chunk's jobs when the chunk ends.
    if (mode !== 'chunk') expect(progress.succeeded).toBeGreaterThanOrEqual(1);
    await h.waitForBatch(t.key, id);
    // A chunk holding the whole batch ends its row itself, before the workflow has taken
    // in the chunk's result: the run's own state is final once the run has ended.
    await handle.result();
    const final = await handle.query<BatchProgress>('progress');
    expect(final).toMatchObject({ status: 'completed', succeeded: n, processed: n, percent: 100, running: 0 });
    const desc = await handle.describe();
    expect(desc.typedSearchAttributes.get(SearchAttributes.TenantId)).toBe(t.id);
    expect(desc.typedSearchAttributes.get(SearchAttributes.BatchId)).toBe(id);
    expect(desc.typedSearchAttributes.get(SearchAttributes.JobType)).toBe('sleep');
    expect(desc.typedSearchAttributes.get(SearchAttributes.BatchStatus)).toBe('completed');
  });

  it.runIf(mode !== 'chunk')('continues as new on a long batch and keeps every run under 10,000 events', async () => {
    // Per activity a run continues as new when Temporal suggests it; in local mode after LOCAL_RUN_JOBS jobs.
    const total = mode === 'local' ? LOCAL_RUN_JOBS + 500 : 1_500;
    const { id, body } = await submit({
      type: 'sleep',
      concurrency: 50,
      items: sleepItems(Array.from({ length: total }, () => ({ ms: 0 }))),
    });
    const done = await h.waitForBatch(t.key, id);
    expect(done.status).toBe('completed');
    expect(done.counters).toMatchObject({ total, succeeded: total });
    await expectCountersMatchRows(id);
    const runs: { runId: string; status: string }[] = [];
    for await (const wf of h.client.workflow.list({ query: `WorkflowId = '${body.workflowId as string}'` })) {
      runs.push({ runId: wf.runId, status: wf.status.name });
    }
    expect(runs.length).toBeGreaterThan(1);
    expect(runs.filter((r) => r.status === 'CONTINUED_AS_NEW')).toHaveLength(runs.length - 1);
    for (const run of runs) {
      const history = await h.client.workflow.getHandle(body.workflowId as string, run.runId).fetchHistory();
      expect(history.events?.length ?? 0).toBeLessThan(10_000);
    }
  });
});

it("a chunk's lanes all waiting on its cancellation signal raise no listener-leak warning", async () => {
  // One chunk, twenty lanes, each job's sleep listening on the chunk's one signal: past
  // ten listeners Node warned of a possible leak (MaxListenersExceededWarning).
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on('warning', onWarning);
  try {
    const { id } = await h.submit(t.key, { type: 'sleep', mode: 'chunk', concurrency: 20, items: sleepItems(Array.from({ length: 60 }, () => ({ ms: 20 }))) });
    expect((await h.waitForBatch(t.key, id)).status).toBe('completed');
  } finally {
    process.off('warning', onWarning);
  }
  expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message)).toEqual([]);
});
