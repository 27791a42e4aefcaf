/** Helpers for the batch-control tests: counters checked against the job rows, bounded waits, workflow queries. */
import { expect } from 'vitest';
import { getBatchById } from '../../db/batches.js';
import { countJobsByStatus } from '../../db/jobs.js';
import type { BatchProgress } from '../../workflows/index.js';
import type { Harness } from './harness.js';

/** Counters on the batch row equal the job rows, status by status, and no job is left unfinished. */
export async function expectSettledCounters(h: Harness, batchId: string) {
  const row = (await getBatchById(h.sql, batchId))!;
  const counts = await countJobsByStatus(h.sql, batchId);
  expect({ succeeded: row.succeededJobs, failed: row.failedJobs, cancelled: row.cancelledJobs }).toEqual({
    succeeded: counts.succeeded,
    failed: counts.failed,
    cancelled: counts.cancelled,
  });
  expect(counts.pending + counts.running).toBe(0);
  return { row, counts };
}

/** Polls `check` until it returns a value; bounded so a stuck run fails the test instead of hanging it. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, limitMs = 120_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const progressOf = (h: Harness, workflowId: string) => h.client.workflow.getHandle(workflowId).query<BatchProgress>('progress');

export const countersOf = async (h: Harness, batchId: string) => {
  const row = (await getBatchById(h.sql, batchId))!;
  return { status: row.status, succeeded: row.succeededJobs, failed: row.failedJobs, cancelled: row.cancelledJobs, paused: row.pausedAt !== null };
};
