/**
 * What the bench reads off a finished batch (bench/run.ts): its runs' history lengths, and
 * whether its counters equal its job rows.
 */
import { getBatchById } from '../db/batches.js';
import { countJobsByStatus } from '../db/jobs.js';
import type { System } from './setup.js';

/**
 * History lengths over the batch's runs (parent, its continued-as-new runs, children),
 * read from each run's own description: the longest, and all of them per job.
 */
export async function historyFigures(sys: System, batchId: string, jobs: number): Promise<{ largest: number; perJob: number; runs: number }> {
  let largest = 0;
  let total = 0;
  let runs = 0;
  for await (const wf of sys.client.workflow.list({ query: `BatchId = '${batchId}'` })) {
    const d = await sys.client.workflow.getHandle(wf.workflowId, wf.runId).describe();
    largest = Math.max(largest, d.historyLength ?? 0);
    total += d.historyLength ?? 0;
    runs++;
  }
  return { largest, perJob: Number((total / jobs).toPrecision(3)), runs };
}

export async function countersMatchRows(sys: System, batchId: string): Promise<boolean> {
  const row = (await getBatchById(sys.sql, batchId))!;
  const c = await countJobsByStatus(sys.sql, batchId);
  return (
    row.succeededJobs === c.succeeded &&
    row.failedJobs === c.failed &&
    row.cancelledJobs === c.cancelled &&
    c.pending + c.running === 0 &&
    row.totalJobs === c.succeeded + c.failed + c.cancelled
  );
}
