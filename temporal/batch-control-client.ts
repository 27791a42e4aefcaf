/** The API's side of batch control: updates, cancel and redrive sent to a batch's workflow. */
import { isGrpcDeadlineError, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import { ApplicationFailure, WorkflowNotFoundError } from '@temporalio/common';
import type { BatchRow } from '../db/batches.js';
import { ConflictError, InvalidInputError, UnavailableError } from '../lib/errors.js';
import {
  BATCH_NOT_RUNNING,
  pauseUpdate,
  redriveSignal,
  resumeUpdate,
  setConcurrencyUpdate,
  type ControlView,
} from '../workflows/control.js';
import type { batchWorkflow } from '../workflows/index.js';
import { batchStartOptions, type TemporalDeps } from './batch-client.js';

export type ControlAction = { kind: 'pause' } | { kind: 'resume' } | { kind: 'concurrency'; concurrency: number };

/**
 * Sends a pause, resume or concurrency change as a Temporal update and waits until the
 * workflow has applied it and recorded it on the batch row. A batch whose workflow
 * has ended or refuses the change answers 409.
 */
export async function controlBatchWorkflow(t: TemporalDeps, workflowId: string, action: ControlAction): Promise<ControlView> {
  const handle = t.client.workflow.getHandle<typeof batchWorkflow>(workflowId);
  const timeoutMs = t.controlTimeoutMs ?? 10_000;
  try {
    // Bounded: with no worker running, an update would wait for one forever.
    return await t.client.withDeadline(Date.now() + timeoutMs, () => {
      if (action.kind === 'pause') return handle.executeUpdate(pauseUpdate);
      if (action.kind === 'resume') return handle.executeUpdate(resumeUpdate);
      return handle.executeUpdate(setConcurrencyUpdate, { args: [action.concurrency] });
    });
  } catch (err) {
    if (isGrpcDeadlineError(err) || err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) {
      throw new UnavailableError(
        `The batch's workflow did not apply the change within ${timeoutMs / 1000} s (is a worker running?); it may still apply it. Check the batch and try again.`,
      );
    }
    if (err instanceof WorkflowNotFoundError) {
      throw new ConflictError(`The batch's workflow is not running (it has ended); only a running batch can be paused, resumed or changed.`);
    }
    if (err instanceof WorkflowUpdateFailedError) {
      const cause = err.cause;
      if (cause instanceof ApplicationFailure && cause.type === BATCH_NOT_RUNNING) {
        throw new ConflictError(`${cause.message}; only a running batch can be paused, resumed or changed.`);
      }
      throw new InvalidInputError(`The batch refused the change: ${cause?.message ?? err.message}.`);
    }
    throw err;
  }
}

/**
 * Asks the batch's workflow to cancel (idempotent on Temporal's side). Returns false
 * when there is no open run to cancel.
 */
export async function cancelBatchWorkflow(t: TemporalDeps, workflowId: string): Promise<boolean> {
  try {
    await t.client.workflow.getHandle(workflowId).cancel();
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

/**
 * After a redrive reset a finished batch's failed jobs: signal-with-start. A run still
 * open (closing: post-processing) gets the signal and continues as new; a closed one is
 * replaced by a new run with the same id. ALLOW_DUPLICATE is what permits that new run
 * after a close; a run already open is signalled, never started twice.
 */
export async function redriveBatchWorkflow(t: TemporalDeps, batch: BatchRow, tenantName: string): Promise<void> {
  await t.client.workflow.signalWithStart<typeof batchWorkflow, []>('batchWorkflow', {
    ...batchStartOptions(t, batch, tenantName),
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    signal: redriveSignal,
    signalArgs: [],
  });
}
