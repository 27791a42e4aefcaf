/**
 * The job type's `timeoutMs` limits one attempt in every mode: an attempt past it fails
 * (`Timeout:START_TO_CLOSE`) and is retried under the type's policy, whether its handler
 * stops when its signal is aborted or runs on regardless. In chunk mode the chunk's
 * other jobs go on meanwhile, and the batch ends long before the chunk's own timeout.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { listJobs } from '../../db/jobs.js';
import { defineJobType } from '../../job-types/job-type.js';
import { builtInJobTypes, createRegistry } from '../../job-types/registry.js';
import { expectSettledCounters } from '../support/batch-control.js';
import { createHarness, type Harness, type TestTenant } from '../support/harness.js';

const TIMEOUT_MS = 1_000;
/** Whether each stuck attempt saw its signal aborted, by job id and attempt. */
const aborted = new Map<string, boolean>();

const stuckJobType = defineJobType({
  name: 'test.stuck',
  description: 'Its first `stuckAttempts` attempts outlast the timeout; `honorsSignal`: they stop when their signal is aborted.',
  input: z.object({ stuckAttempts: z.int().min(0), honorsSignal: z.boolean() }).strict(),
  policy: {
    mode: 'chunk',
    maxRetries: 1,
    backoff: { initialIntervalMs: 100, coefficient: 2, maximumIntervalMs: 1_000 },
    timeoutMs: TIMEOUT_MS,
    heartbeatTimeoutMs: 30_000,
  },
  async handler(input, ctx) {
    if (ctx.attempt > input.stuckAttempts) return { attempt: ctx.attempt };
    const key = `${ctx.jobId}/${ctx.attempt}`;
    aborted.set(key, false);
    ctx.signal.addEventListener('abort', () => aborted.set(key, true), { once: true });
    // Long past the timeout, but bounded: a worker stopping at the end waits for what still runs.
    await delay(4 * TIMEOUT_MS, undefined, input.honorsSignal ? { signal: ctx.signal } : {});
    return { attempt: ctx.attempt, late: true };
  },
});

let h: Harness;
let t: TestTenant;
beforeAll(async () => {
  h = await createHarness({ registry: createRegistry([...builtInJobTypes, stuckJobType]) });
  t = await h.tenant();
});
afterAll(() => h?.close());

describe.each(['activity', 'chunk', 'local'] as const)('in %s mode', (mode) => {
  it('an attempt past the type’s timeout fails as a timeout and is retried; one stuck every time fails the job', async () => {
    const shapes = [
      { stuckAttempts: 1, honorsSignal: false },
      { stuckAttempts: 1, honorsSignal: true },
      { stuckAttempts: 2, honorsSignal: true },
      // Enough quick jobs that a chunk holds more than runs as a local activity.
      ...Array.from({ length: 40 }, () => ({ stuckAttempts: 0, honorsSignal: false })),
    ];
    const { id, status } = await h.submit(t.key, { type: 'test.stuck', mode, concurrency: 4, items: shapes.map((input) => ({ input })) });
    expect(status).toBe(202);
    const done = await h.waitForBatch(t.key, id);
    expect(done).toMatchObject({ status: 'partial', counters: { succeeded: shapes.length - 1, failed: 1 } });

    const jobs = await listJobs(h.sql, id, { afterSeq: -1, limit: 100 });
    const bySeq = jobs.sort((a, b) => a.seq - b.seq);
    expect(bySeq.slice(0, 3).map((j) => [j.status, j.attempts])).toEqual([
      ['succeeded', 2],
      ['succeeded', 2],
      ['failed', 2],
    ]);
    // The message Temporal gives an activity's timeout (a local activity's is its SDK's own).
    expect(bySeq[2]).toMatchObject({ errorType: 'Timeout:START_TO_CLOSE', errorMessage: mode === 'local' ? 'Activity timed out' : 'activity StartToClose timeout' });
    // What a timed-out attempt returned later is not its job's output.
    expect(bySeq.slice(0, 2).map((j) => j.output)).toEqual([{ attempt: 2 }, { attempt: 2 }]);
    expect(bySeq.slice(3).every((j) => j.status === 'succeeded' && j.attempts === 1)).toBe(true);
    if (mode === 'chunk') {
      // Each stuck attempt was told to stop.
      for (const j of bySeq.slice(0, 3)) expect(aborted.get(`${j.id}/1`)).toBe(true);
    }
    await expectSettledCounters(h, id);
  });
});
