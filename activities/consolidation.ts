import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Db } from '../db/client.js';
import * as phases from '../db/consolidation-phases.js';
import * as consolidations from '../db/consolidations.js';
import type { ConsolidationRow } from '../db/consolidations.js';
import { getTenantSettings, thresholdStateOfBatch } from '../db/tenant-settings.js';
import { groupNearDuplicates } from '../lib/signature-groups.js';
import { claimPastOrphan, releaseIfOrphaned } from '../temporal/orphaned-consolidation.js';
import {
  consolidationWorkflowId,
  FailureTypes,
  type ConsolidationPhase,
  type ConsolidationScope,
  type ConsolidationStatus,
  type TriggerType,
} from '../lib/names.js';
import type { ActivityDeps } from './index.js';

export interface ConsolidationClaim {
  consolidationId: string;
  tenantId: string;
  /** False when the tenant already had one pending or running: that one is returned. */
  created: boolean;
  triggerType: TriggerType;
}

/** What the workflow needs to decide its next step; the row is the record. */
export interface ConsolidationState {
  status: ConsolidationStatus;
  phasesCompleted: ConsolidationPhase[];
  retryCount: number;
  maxRetries: number;
}

/** Pairwise comparison is quadratic: bound the documents compared per run. */
const MAX_CLUSTER_DOCUMENTS = 5_000;

const stateOf = (row: ConsolidationRow): ConsolidationState => ({
  status: row.status,
  phasesCompleted: row.phasesCompleted,
  retryCount: row.retryCount,
  maxRetries: row.maxRetries,
});

const gone = (id: string) =>
  ApplicationFailure.create({ type: FailureTypes.NotFound, nonRetryable: true, message: `consolidation ${id} no longer exists` });

export function createConsolidationActivities({ sql, log }: ActivityDeps) {
  const phase = async (
    id: string,
    name: ConsolidationPhase,
    effects: (tx: Db, row: ConsolidationRow) => Promise<Record<string, unknown>>,
  ) => {
    const outcome = await consolidations.runPhaseOnce(sql, id, name, effects);
    if (!outcome) throw gone(id);
    return outcome;
  };

  /** Claims past an orphaned active row (temporal/orphaned-consolidation.ts); a failed lookup fails the activity, which is retried. */
  const claim = (c: consolidations.NewConsolidation) => claimPastOrphan(sql, c, (row) => releaseIfOrphaned(Context.current().client, sql, log, row));

  return {
    /** A new pending consolidation, or the tenant's active one. */
    async claimConsolidation(args: {
      tenantId: string;
      triggerType: TriggerType;
      triggeredBy: string;
      scope: ConsolidationScope;
    }): Promise<ConsolidationClaim> {
      const { row, created } = await claim({ ...args, workflowId: consolidationWorkflowId(args.tenantId) });
      return { consolidationId: row.id, tenantId: row.tenantId, created, triggerType: row.triggerType };
    },

    /**
     * After a batch ends: claims a threshold consolidation when the tenant's finished,
     * unconsolidated jobs reach its threshold. Consolidated batches stop counting, so
     * the count has to climb back to the threshold before it fires again.
     */
    async claimThresholdConsolidation({ batchId }: { batchId: string }): Promise<ConsolidationClaim | null> {
      const state = await thresholdStateOfBatch(sql, batchId);
      if (!state || state.threshold === null || state.unconsolidatedJobs < state.threshold) return null;
      const { row, created } = await claim({
        tenantId: state.tenantId,
        triggerType: 'threshold',
        triggeredBy: `threshold:${state.threshold} (batch ${batchId})`,
        scope: {},
        workflowId: consolidationWorkflowId(state.tenantId),
      });
      return { consolidationId: row.id, tenantId: row.tenantId, created, triggerType: row.triggerType };
    },

    /** pending → running (once); where the run stands. */
    async beginConsolidation({ consolidationId }: { consolidationId: string }): Promise<ConsolidationState> {
      const row = await consolidations.markConsolidationRunning(sql, consolidationId);
      if (!row) throw gone(consolidationId);
      return stateOf(row);
    },

    async consolidationCollect({ consolidationId }: { consolidationId: string }) {
      return phase(consolidationId, 'collect', (tx, row) => phases.collectBatches(tx, row));
    },

    async consolidationStats({ consolidationId }: { consolidationId: string }) {
      return phase(consolidationId, 'stats', (tx) => phases.rollUpStats(tx, consolidationId));
    },

    /** A no-op with zero counts unless `document.analyze` results are in scope. */
    async consolidationCluster({ consolidationId }: { consolidationId: string }) {
      return phase(consolidationId, 'cluster', async (tx) => {
        const docs = await phases.listDocumentSignatures(tx, consolidationId, MAX_CLUSTER_DOCUMENTS);
        const clusters = groupNearDuplicates(docs.map((d) => ({ id: d.jobId, minhash: d.minhash, embedding: d.embedding })));
        await phases.insertDocumentClusters(tx, consolidationId, clusters);
        return {
          documents: docs.length,
          clusters: clusters.length,
          duplicates: clusters.reduce((n, c) => n + c.length - 1, 0),
          truncated: docs.length === MAX_CLUSTER_DOCUMENTS,
        };
      });
    },

    /** Deletes batches past the tenant's retention (none when it has no retention set). */
    async consolidationRetention({ consolidationId }: { consolidationId: string }) {
      return phase(consolidationId, 'retention', async (tx, row) => {
        const { retentionDays } = await getTenantSettings(tx, row.tenantId);
        if (retentionDays === null) return { retentionDays, batchesDeleted: 0, jobsDeleted: 0 };
        return { retentionDays, ...(await phases.deleteExpiredBatches(tx, row.tenantId, retentionDays)) };
      });
    },

    /** Counts a failed phase attempt, keeps its message; the workflow decides whether to retry. */
    async recordConsolidationFailure(args: { consolidationId: string; message: string }): Promise<ConsolidationState> {
      const row = await consolidations.recordConsolidationFailure(sql, args.consolidationId, args.message.slice(0, 4_000));
      if (!row) throw gone(args.consolidationId);
      return stateOf(row);
    },

    /** Ends the run (idempotent: an ended run keeps its outcome). */
    async finishConsolidation(args: {
      consolidationId: string;
      status: 'completed' | 'failed' | 'cancelled';
      message?: string;
    }): Promise<ConsolidationState & { metrics: Record<string, unknown> }> {
      const row = await consolidations.finishConsolidation(sql, args.consolidationId, args.status, args.message);
      if (!row) throw gone(args.consolidationId);
      return { ...stateOf(row), metrics: row.metrics };
    },
  };
}
