/**
 * Starting a claimed consolidation from inside a workflow (threshold and schedule
 * triggers): as a child with the tenant's fixed id and the ABANDON close policy, so it
 * outlives its starter, and without a Temporal client in any activity.
 */
import {
  isCancellation,
  log,
  proxyActivities,
  proxyLocalActivities,
  sleep,
  startChild,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { Activities, ConsolidationClaim } from '../activities/index.js';
import { consolidationWorkflowId, NON_RETRYABLE_FAILURE_TYPES, SearchAttributes } from '../lib/names.js';
import { consolidationWorkflow, type ConsolidationResult } from './consolidation.js';

const trigger = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: {
    initialInterval: '500 ms',
    backoffCoefficient: 2,
    maximumInterval: '10 seconds',
    maximumAttempts: 5,
    nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURE_TYPES],
  },
});

/**
 * Every batch end asks, most tenants have no threshold: a local activity keeps the
 * check off the server's task queue (measured: one server round trip less per batch).
 */
const thresholdChecks = proxyLocalActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '500 ms', backoffCoefficient: 2, maximumInterval: '10 seconds', maximumAttempts: 5 },
});

/** A previous run may still be closing (its row is closed, its workflow not yet): wait for it this long. */
const START_ATTEMPTS = 10;

/**
 * Starts the claimed consolidation's workflow; with `wait`, returns its result.
 * Returns undefined when it could not be started (its row is then closed as cancelled).
 */
export async function startClaimedConsolidation(
  claim: ConsolidationClaim,
  opts: { wait: boolean },
): Promise<ConsolidationResult | undefined> {
  for (let attempt = 1; ; attempt++) {
    try {
      const child = await startChild(consolidationWorkflow, {
        workflowId: consolidationWorkflowId(claim.tenantId),
        args: [{ consolidationId: claim.consolidationId, tenantId: claim.tenantId }],
        parentClosePolicy: 'ABANDON',
        typedSearchAttributes: [
          { key: SearchAttributes.TenantId, value: claim.tenantId },
          { key: SearchAttributes.ConsolidationTrigger, value: claim.triggerType },
        ],
        memo: { consolidationId: claim.consolidationId },
        staticSummary: `${claim.triggerType} consolidation ${claim.consolidationId}`,
      });
      return opts.wait ? await child.result() : undefined;
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      if (attempt >= START_ATTEMPTS) {
        await trigger.finishConsolidation({
          consolidationId: claim.consolidationId,
          status: 'cancelled',
          message: `another consolidation workflow kept running for this tenant (${consolidationWorkflowId(claim.tenantId)})`,
        });
        return undefined;
      }
      await sleep(1_000);
    }
  }
}

/**
 * Called by the batch workflow after `finishBatch`: starts a threshold consolidation
 * when the tenant's unconsolidated finished jobs have reached its threshold. Never
 * fails the batch, whose outcome is already written; the next batch end checks again.
 */
export async function maybeStartThresholdConsolidation(batchId: string): Promise<void> {
  try {
    const claim = await thresholdChecks.claimThresholdConsolidation({ batchId });
    if (claim?.created) await startClaimedConsolidation(claim, { wait: false });
  } catch (err) {
    if (isCancellation(err)) throw err;
    log.warn('threshold consolidation check failed; the batch outcome stands', { batchId, error: String(err) });
  }
}
