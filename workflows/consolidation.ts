/**
 * consolidationWorkflow — one run per consolidation, id `consolidation-<tenantId>`, so
 * Temporal keeps at most one running per tenant (the database's one-active-row index
 * guards the same across triggers).
 *
 * Shape:
 *   beginConsolidation (pending → running; phases already completed, retry budget)
 *   loop over the phases not yet completed, in order: collect → stats → cluster → retention,
 *     each one activity that does its effects and appends its name to
 *     `phases_completed` in one transaction (a phase never has its effects twice)
 *     on a failed phase: recordConsolidationFailure (retry_count + 1, error_message),
 *       then, within max_retries, a durable backoff timer and resume at the first
 *       phase not completed; past it, the run ends `failed`
 *   finishConsolidation (completed / failed; cancelled in a non-cancellable scope)
 * Phase activities have a single attempt each: the retry policy is the
 * consolidation's own (`max_retries`), so every attempt is counted on its row.
 */
import {
  ActivityFailure,
  CancellationScope,
  isCancellation,
  proxyActivities,
  sleep,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { Activities, ConsolidationState } from '../activities/index.js';
import {
  CONSOLIDATION_PHASES,
  NON_RETRYABLE_FAILURE_TYPES,
  type ConsolidationPhase,
  type ConsolidationStatus,
} from '../lib/names.js';

export interface ConsolidationWorkflowArgs {
  consolidationId: string;
  tenantId: string;
}

export interface ConsolidationResult {
  consolidationId: string;
  status: ConsolidationStatus;
  phasesCompleted: ConsolidationPhase[];
  retryCount: number;
}

const BOOKKEEPING: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: {
    initialInterval: '500 ms',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURE_TYPES],
  },
};
const PHASE: ActivityOptions = { startToCloseTimeout: '30 minutes', retry: { maximumAttempts: 1 } };

const book = proxyActivities<Activities>(BOOKKEEPING);
const run = proxyActivities<Activities>(PHASE);

const PHASE_ACTIVITIES: Record<ConsolidationPhase, (a: { consolidationId: string }) => Promise<unknown>> = {
  collect: run.consolidationCollect,
  stats: run.consolidationStats,
  cluster: run.consolidationCluster,
  retention: run.consolidationRetention,
};

/** Backoff between attempts of a failed phase: 1 s, 2 s, 4 s, … at most a minute. */
const retryDelayMs = (retryCount: number): number => Math.min(1_000 * 2 ** Math.max(retryCount - 1, 0), 60_000);

function failureMessage(phase: ConsolidationPhase, err: unknown): string {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  const message = cause instanceof Error ? cause.message : String(cause);
  return `phase ${phase} failed: ${message}`;
}

export async function consolidationWorkflow(args: ConsolidationWorkflowArgs): Promise<ConsolidationResult> {
  const { consolidationId } = args;
  const result = (s: ConsolidationState): ConsolidationResult => ({
    consolidationId,
    status: s.status,
    phasesCompleted: s.phasesCompleted,
    retryCount: s.retryCount,
  });

  let state = await book.beginConsolidation({ consolidationId });
  if (state.status !== 'running') return result(state); // ended before this run started
  try {
    for (;;) {
      const next = CONSOLIDATION_PHASES.find((p) => !state.phasesCompleted.includes(p));
      if (!next) break;
      try {
        await PHASE_ACTIVITIES[next]({ consolidationId });
        state = { ...state, phasesCompleted: [...state.phasesCompleted, next] };
      } catch (err) {
        if (isCancellation(err)) throw err;
        // The row is re-read here, so the next attempt resumes at the first phase it lacks.
        state = await book.recordConsolidationFailure({ consolidationId, message: failureMessage(next, err) });
        if (state.status !== 'running') return result(state);
        if (state.retryCount > state.maxRetries) {
          return result(await book.finishConsolidation({ consolidationId, status: 'failed' }));
        }
        await sleep(retryDelayMs(state.retryCount));
      }
    }
    return result(await book.finishConsolidation({ consolidationId, status: 'completed' }));
  } catch (err) {
    // Whatever stops the run, its row must not stay active: it would block the tenant.
    const status = isCancellation(err) ? 'cancelled' : 'failed';
    await CancellationScope.nonCancellable(() =>
      book.finishConsolidation({ consolidationId, status, message: status === 'cancelled' ? 'cancelled by request' : failureMessageOf(err) }),
    );
    throw err;
  }
}

const failureMessageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));
