/**
 * scheduledConsolidationWorkflow — the action of a tenant's consolidation Schedule
 * (id `consolidation-schedule-<tenantId>-<name>-<time>`, set by the server).
 *
 * Shape: claimConsolidation (trigger `scheduled`) → when none was active, run the
 * tenant's consolidationWorkflow as an ABANDON child and wait for it, so the
 * schedule's overlap policy (SKIP) sees the run for as long as it lasts; when one was
 * active, end at once naming it.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { NON_RETRYABLE_FAILURE_TYPES, type ConsolidationScope } from '../lib/names.js';
import type { ConsolidationResult } from './consolidation.js';
import { startClaimedConsolidation } from './consolidation-trigger.js';

export interface ScheduledConsolidationArgs {
  tenantId: string;
  scheduleName: string;
  scope: ConsolidationScope;
}

export type ScheduledConsolidationResult =
  | { started: true; result: ConsolidationResult | undefined }
  | { started: false; activeConsolidationId: string };

const { claimConsolidation } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '500 ms', maximumInterval: '30 seconds', nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURE_TYPES] },
});

export async function scheduledConsolidationWorkflow(args: ScheduledConsolidationArgs): Promise<ScheduledConsolidationResult> {
  const claim = await claimConsolidation({
    tenantId: args.tenantId,
    triggerType: 'scheduled',
    triggeredBy: `schedule:${args.scheduleName}`,
    scope: args.scope,
  });
  if (!claim.created) return { started: false, activeConsolidationId: claim.consolidationId };
  return { started: true, result: await startClaimedConsolidation(claim, { wait: true }) };
}
