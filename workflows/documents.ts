/**
 * The batch workflow's only job-type-specific step: when a document.analyze batch has
 * ended, its near-duplicate clusters are computed (activities/documents.ts). Best
 * effort: the batch's outcome is already written, so a clustering failure is logged
 * (GET /v1/batches/:id/clusters then answers that none were computed), not raised.
 */
import { ActivityFailure, isCancellation, log, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';

/** Same string as DOCUMENT_ANALYZE in job-types/document-analyze.ts (not imported: it would pull zod into the workflow bundle). */
const DOCUMENT_ANALYZE = 'document.analyze';

const { clusterBatchDocuments } = proxyActivities<Activities>({
  // 100,000 documents take seconds to cluster; the margin is for slow machines and big pages.
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '2 minutes',
  retry: {
    maximumAttempts: 3,
    initialInterval: '2 seconds',
    backoffCoefficient: 2,
    nonRetryableErrorTypes: ['NotFound', 'NotADocumentBatch'],
  },
});

export async function afterBatchFinished(batchId: string, jobType: string): Promise<void> {
  if (jobType !== DOCUMENT_ANALYZE) return;
  try {
    await clusterBatchDocuments({ batchId });
  } catch (err) {
    if (isCancellation(err) || !(err instanceof ActivityFailure)) throw err;
    log.warn('document clustering failed; the batch keeps its outcome', { batchId, error: err.cause?.message ?? err.message });
  }
}
