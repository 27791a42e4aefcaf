/**
 * The `ends` workload: how fast PostgreSQL ends one-activity-per-job jobs of one batch,
 * with nothing else in the way (no Temporal, no handlers). 100 callers end 5,000 running
 * jobs, as 100 per-activity attempts in flight would, over the bench's pool of 20
 * connections: once one statement per end (`succeedJob`), once as the worker writes
 * them (`grouped`: the group commit of activities/job.ts). Each counts its job on the
 * batch (on stripes of it, db/job-attempts.ts).
 */
import { getBatchById, insertBatch, markBatchRunning } from '../db/batches.js';
import type { Sql } from '../db/client.js';
import { attemptStatements } from '../activities/job.js';
import { succeedJob } from '../db/job-attempts.js';
import { listJobs } from '../db/jobs.js';

export async function runJobEnds(sql: Sql, tenantId: string, jobs: number, grouped: boolean): Promise<object> {
  const batch = await sql.begin((tx) =>
    insertBatch(
      tx,
      {
        tenantId,
        createdBy: null,
        jobType: 'sleep',
        mode: 'activity',
        concurrency: 100,
        maxRetries: 0,
        retryInitialIntervalMs: 100,
        retryBackoffCoefficient: 2,
        retryMaximumIntervalMs: 1_000,
        workflowIdOf: (id) => `bench-ends-${id}`,
      },
      Array.from({ length: jobs }, () => ({ ms: 0 })),
    ),
  );
  await markBatchRunning(sql, batch.id);
  // Every job's first attempt has started, as runJob's startAttempt leaves it.
  await sql`update jobs set status = 'running', attempts = 1, started_at = now() where batch_id = ${batch.id}`;
  const rows = await listJobs(sql, batch.id, { afterSeq: -1, limit: jobs });
  const succeed = grouped ? attemptStatements(sql).succeed : ({ jobId }: { jobId: string }) => succeedJob(sql, jobId, 1, null);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 100 }, async () => {
      while (next < rows.length) await succeed({ jobId: rows[next++]!.id, attempt: 1, output: null });
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const counted = (await getBatchById(sql, batch.id))!.succeededJobs;
  return { workload: 'ends', mode: 'activity', grouped, jobs, seconds: Number(seconds.toFixed(2)), endsPerSecond: Math.round(jobs / seconds), countersMatchRows: counted === jobs };
}
