import type { Client } from '@temporalio/client';
import type { BatchRow } from '../db/batches.js';
import { LOCAL_CHUNK_MAX } from '../lib/chunk-shape.js';
import { SearchAttributes } from '../lib/names.js';
import type { BatchProgress, BatchWorkflowArgs, batchWorkflow } from '../workflows/index.js';

export interface TemporalDeps {
  client: Client;
  namespace: string;
  taskQueue: string;
  uiUrl: string;
  /** How long a pause, resume or concurrency change may wait for the workflow to apply it (default 10 s). */
  controlTimeoutMs?: number;
}

/** What every run of a batch's workflow starts with: id, queue, search attributes and a readable summary. */
export function batchStartOptions(t: TemporalDeps, batch: BatchRow, tenantName: string) {
  const args: BatchWorkflowArgs = { batchId: batch.id, tenantId: batch.tenantId };
  return {
    workflowId: batch.workflowId,
    taskQueue: t.taskQueue,
    args: [args] as [BatchWorkflowArgs],
    // Fair sharing: the server dispatches backlogged tasks round-robin over fairness
    // keys. Child workflows and activities inherit it, so every task of every batch of
    // a tenant shares that tenant's turn, whatever the size of its backlog.
    priority: { fairnessKey: batch.tenantId },
    typedSearchAttributes: [
      { key: SearchAttributes.TenantId, value: batch.tenantId },
      { key: SearchAttributes.BatchId, value: batch.id },
      { key: SearchAttributes.JobType, value: batch.jobType },
      { key: SearchAttributes.BatchStatus, value: 'pending' },
    ],
    memo: { tenant: tenantName },
    staticSummary: `${batch.jobType} batch: ${batch.totalJobs} job${batch.totalJobs === 1 ? '' : 's'}, tenant ${tenantName}`,
    staticDetails: `Batch ${batch.id}, concurrency ${batch.concurrency}, maxRetries ${batch.maxRetries}`,
  };
}

/**
 * Starts the batch's workflow. The id comes from the batch id and an existing run is
 * reused, so starting twice is a no-op; once the batch's workflow has closed, a stray
 * second start is refused (REJECT_DUPLICATE). Only a redrive starts a new run of a
 * closed batch (batch-control-client.ts), deliberately and with its own policy.
 * With `jobTimeoutMs` (the job type's), a small chunked batch runs in startBatch itself.
 */
export async function startBatchWorkflow(t: TemporalDeps, batch: BatchRow, tenantName: string, jobTimeoutMs?: number): Promise<void> {
  const options = batchStartOptions(t, batch, tenantName);
  if (jobTimeoutMs !== undefined && batch.mode === 'chunk' && batch.totalJobs <= LOCAL_CHUNK_MAX) options.args[0].small = { jobTimeoutMs };
  await t.client.workflow.start<typeof batchWorkflow>('batchWorkflow', {
    ...options,
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'REJECT_DUPLICATE',
  });
}

/** Live progress from the running workflow, or undefined when it cannot answer. */
export async function queryBatchProgress(t: TemporalDeps, workflowId: string): Promise<BatchProgress | undefined> {
  try {
    return await t.client.workflow.getHandle(workflowId).query<BatchProgress>('progress');
  } catch {
    return undefined;
  }
}

export const temporalUiLink = (t: TemporalDeps, workflowId: string): string =>
  `${t.uiUrl.replace(/\/$/, '')}/namespaces/${encodeURIComponent(t.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
