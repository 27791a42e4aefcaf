/** A batch of `sleep` jobs written straight to the database, with no workflow: for tests of the SQL under the activities. */
import { insertBatch, type BatchRow } from '../../db/batches.js';
import type { Sql } from '../../db/client.js';
import type { ExecutionMode } from '../../job-types/job-type.js';

export function insertSleepBatch(
  sql: Sql,
  tenantId: string,
  o: { mode: ExecutionMode; items: unknown[]; concurrency?: number; maxRetries?: number },
): Promise<BatchRow> {
  return sql.begin((tx) =>
    insertBatch(
      tx,
      {
        tenantId,
        createdBy: null,
        jobType: 'sleep',
        mode: o.mode,
        concurrency: o.concurrency ?? 1,
        maxRetries: o.maxRetries ?? 0,
        retryInitialIntervalMs: 10,
        retryBackoffCoefficient: 2,
        retryMaximumIntervalMs: 100,
        workflowIdOf: (id) => `sleep-batch-${id}`,
      },
      o.items,
    ),
  );
}
