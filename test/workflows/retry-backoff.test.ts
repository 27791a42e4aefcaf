/**
 * A retry's backoff counts from its failed attempt, in both modes: never sooner, and in
 * chunk mode no later than it must (the rest of the chunk's run is part of the wait).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineJobType, TransientJobError } from '../../job-types/job-type.js';
import { builtInJobTypes, createRegistry } from '../../job-types/registry.js';
import { listJobs } from '../../db/jobs.js';
import { LOCAL_RUN_JOBS } from '../../workflows/local.js';
import type { HeldRetry } from '../../workflows/shared.js';
import { expectSettledCounters } from '../support/batch-control.js';
import { createHarness, sleepItems, type Harness, type TestTenant } from '../support/harness.js';

/** Each attempt's start and end on the worker's clock, by job id. */
const attemptsSeen = new Map<string, { attempt: number; startedAt: number; endedAt: number }[]>();

/** Fails its first `failTimes` attempts after `ms`, and writes down when each attempt ran. */
const clockedJobType = defineJobType({
  name: 'test.clocked',
  description: 'Records when each attempt ran; fails the first `failTimes` of them.',
  input: z.object({ ms: z.int().min(0), failTimes: z.int().min(0) }).strict(),
  chooseMode: () => 'chunk',
  async handler(input, ctx) {
    const startedAt = Date.now();
    if (input.ms > 0) await new Promise((r) => setTimeout(r, input.ms));
    const seen = attemptsSeen.get(ctx.jobId) ?? [];
    attemptsSeen.set(ctx.jobId, seen);
    seen.push({ attempt: ctx.attempt, startedAt, endedAt: Date.now() });
    if (ctx.attempt <= input.failTimes) throw new TransientJobError(`attempt ${ctx.attempt} fails`);
    return { attempt: ctx.attempt };
  },
});

let h: Harness;
let t: TestTenant;
beforeAll(async () => {
  h = await createHarness({ registry: createRegistry([...builtInJobTypes, clockedJobType]) });
  t = await h.tenant();
});
afterAll(() => h?.close());

describe.each(['activity', 'chunk', 'local'] as const)('in %s mode', (mode) => {
  it('a retry starts no sooner than its backoff after the failed attempt', async () => {
    // 30 jobs, a third failing twice, four at a time: chunks run on while their failures wait.
    const items = Array.from({ length: 30 }, (_, i) => ({ input: { ms: i % 4 === 0 ? 40 : 5, failTimes: i % 3 === 0 ? 2 : 0 } }));
    const { id } = await h.submit(t.key, {
      type: 'test.clocked',
      mode,
      concurrency: 4,
      maxRetries: 2,
      backoff: { initialIntervalMs: 150, coefficient: 2 },
      items,
    });
    const done = await h.waitForBatch(t.key, id);
    expect(done).toMatchObject({ status: 'completed', counters: { succeeded: 30, failed: 0 } });
    const jobs = await listJobs(h.sql, id, { afterSeq: -1, limit: 100 });
    const gaps: number[][] = [];
    for (const job of jobs) {
      const seen = attemptsSeen.get(job.id)!;
      expect(seen.map((a) => a.attempt)).toEqual(job.seq % 3 === 0 ? [1, 2, 3] : [1]);
      expect(job.attempts).toBe(seen.length);
      gaps.push(seen.slice(1).map((a, i) => a.startedAt - seen[i]!.endedAt));
    }
    // 150 ms after the first failure, 300 after the second; the clocks read whole
    // milliseconds, hence one of slack.
    for (const g of gaps.filter((g) => g.length > 0)) {
      expect(g[0]).toBeGreaterThanOrEqual(149);
      expect(g[1]).toBeGreaterThanOrEqual(299);
    }
    await expectSettledCounters(h, id);
  });
});

it('in chunk mode, a failure whose backoff ran out while its chunk ran on goes round again without a timer', async () => {
  // 20 jobs in one chunk (more than run as a local activity); one fails at once, one
  // takes 600 ms: by the chunk's end the 200 ms backoff has passed.
  const items = sleepItems(Array.from({ length: 20 }, (_, i) => (i === 0 ? { ms: 0, failTimes: 1 } : { ms: i === 1 ? 600 : 0 })));
  const { id, body } = await h.submit(t.key, { type: 'sleep', mode: 'chunk', concurrency: 20, maxRetries: 1, backoff: { initialIntervalMs: 200 }, items });
  const done = await h.waitForBatch(t.key, id);
  expect(done).toMatchObject({ status: 'completed', counters: { succeeded: 20 } });
  const [first] = await listJobs(h.sql, id, { afterSeq: -1, limit: 1 });
  expect(first).toMatchObject({ status: 'succeeded', attempts: 2 });
  const { events } = await h.client.workflow.getHandle(body.workflowId as string).fetchHistory();
  // Timed from the chunk's result, the retry waited 200 ms more on a timer.
  expect((events ?? []).filter((e) => e.timerStartedEventAttributes)).toEqual([]);
  await expectSettledCounters(h, id);
});

it('in chunk mode, retries that come due while the first pass runs wait on no timer of their own', async () => {
  // Four chunks of 250, one at a time, each about 75 ms. The last ten jobs of each of the
  // first three fail once, with a 20 ms backoff: their chunk's result comes before the
  // backoff has run out, the next chunk's after. The last chunk has no failures.
  const fails = (i: number) => i < 750 && i % 250 >= 240;
  const items = sleepItems(Array.from({ length: 1_000 }, (_, i) => ({ ms: 3, failTimes: fails(i) ? 1 : 0 })));
  const { id, body } = await h.submit(t.key, { type: 'sleep', mode: 'chunk', concurrency: 10, maxRetries: 1, backoff: { initialIntervalMs: 20 }, items });
  const done = await h.waitForBatch(t.key, id);
  expect(done).toMatchObject({ status: 'completed', counters: { succeeded: 1_000, failed: 0 } });
  const jobs = await listJobs(h.sql, id, { afterSeq: -1, limit: 1_000 });
  expect(jobs.filter((j) => j.attempts === 2).map((j) => j.seq)).toEqual(jobs.filter((j) => fails(j.seq)).map((j) => j.seq));
  const { events } = await h.client.workflow.getHandle(body.workflowId as string).fetchHistory();
  const chunks = (events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'runChunk');
  // Four first-pass chunks and one retry round; before, each failed group waited on a
  // timer of its own (three here).
  expect(chunks).toHaveLength(5);
  expect((events ?? []).filter((e) => e.timerStartedEventAttributes)).toEqual([]);
  // Jobs travel through the history by position, not as entries with ids: the chunks'
  // results hand back the failed jobs' positions, and the retry round takes them.
  const failing = jobs.filter((j) => fails(j.seq)).map((j) => j.seq);
  const payload = (d: Uint8Array | null | undefined) => JSON.parse(Buffer.from(d!).toString('utf8')) as Record<string, unknown>;
  const round = payload(chunks.at(-1)!.activityTaskScheduledEventAttributes!.input!.payloads![0]!.data) as { seqs?: number[]; ids?: string[] };
  expect(round.ids).toBeUndefined();
  expect(round.seqs?.toSorted((a, b) => a - b)).toEqual(failing);
  const results = (events ?? [])
    .filter((e) => e.activityTaskCompletedEventAttributes)
    .map((e) => payload(e.activityTaskCompletedEventAttributes!.result!.payloads![0]!.data) as { retry: unknown[]; retryAt?: { seqs: number[] } });
  expect(results.flatMap((r) => r.retry)).toEqual([]);
  expect(results.flatMap((r) => r.retryAt?.seqs ?? []).toSorted((a, b) => a - b)).toEqual(failing);
  await expectSettledCounters(h, id);
  // Each chunk took a claim on the positions it ran; the batch's end removed them.
  expect(await h.sql`select chunk from chunk_claims where batch_id = ${id}`).toEqual([]);
});

it('in local mode, jobs between attempts when a run continues as new keep their attempts and their backoff', async () => {
  // Every tenth job fails twice; with one retry allowed it ends failed after exactly two
  // attempts, the second at least the backoff after the first. Failures of the last
  // waves before the run continues as new are still waiting out their backoff then:
  // the next run must not start them afresh (a third attempt) or at once.
  const total = LOCAL_RUN_JOBS + 400;
  const items = Array.from({ length: total }, (_, i) => ({ input: { ms: 0, failTimes: i % 10 === 0 ? 2 : 0 } }));
  const backoffMs = 1_000;
  const { id, body } = await h.submit(t.key, {
    type: 'test.clocked',
    mode: 'local',
    concurrency: 50,
    maxRetries: 1,
    backoff: { initialIntervalMs: backoffMs },
    items,
  });
  const done = await h.waitForBatch(t.key, id);
  const failing = total / 10;
  expect(done).toMatchObject({ status: 'partial', counters: { succeeded: total - failing, failed: failing } });
  const jobs = await listJobs(h.sql, id, { afterSeq: -1, limit: total });
  for (const job of jobs) {
    const seen = attemptsSeen.get(job.id)!;
    expect(seen.map((a) => a.attempt)).toEqual(job.seq % 10 === 0 ? [1, 2] : [1]);
    expect(job.attempts).toBe(seen.length);
    if (seen.length === 2) expect(seen[1]!.startedAt - seen[0]!.endedAt).toBeGreaterThanOrEqual(backoffMs - 1);
  }
  await expectSettledCounters(h, id);
  // Not vacuous: a run did hand jobs between attempts to the next.
  const carried: number[] = [];
  for await (const wf of h.client.workflow.list({ query: `WorkflowId = '${body.workflowId as string}'` })) {
    const history = await h.client.workflow.getHandle(body.workflowId as string, wf.runId).fetchHistory();
    const input = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]?.data;
    const args = input ? (JSON.parse(Buffer.from(input).toString()) as { retries?: HeldRetry[] }) : {};
    if (args.retries?.length) carried.push(args.retries.length);
  }
  expect(carried.length).toBeGreaterThan(0);
});
