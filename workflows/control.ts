/**
 * Messages that steer a running batch (issue 4), and the live control state its
 * runners read. Definitions only: the API imports them to send updates and signals.
 */
import { defineSignal, defineUpdate } from '@temporalio/workflow';

/** What a pause, resume or concurrency change sets. */
export interface ControlState {
  paused: boolean;
  concurrency: number;
}

/** What the batch's updates answer: the state in effect once the row records it. */
export interface ControlView extends ControlState {
  batchId: string;
}

export const pauseUpdate = defineUpdate<ControlView>('pause');
export const resumeUpdate = defineUpdate<ControlView>('resume');
export const setConcurrencyUpdate = defineUpdate<ControlView, [number]>('setConcurrency');

/**
 * Sent (with signal-with-start) when a finished batch's failed jobs were reset to
 * pending: a run still closing continues as new to run them; a closed one is replaced
 * by the new run the signal starts.
 */
export const redriveSignal = defineSignal('redrive');

/** Parent → range child: the batch's control state, with the child's share of the concurrency. */
export const rangeControlSignal = defineSignal<[ControlState]>('control');

/** Failure type of an update refused because the batch is not running. */
export const BATCH_NOT_RUNNING = 'BatchNotRunning';

export const MAX_CONCURRENCY = 1000;

/**
 * The state every runner of one workflow run shares by reference: the control state,
 * plus the failure tolerance and whether it has been crossed.
 */
export interface RunControl extends ControlState {
  /** Set once the batch must stop: its failures passed `failureLimit`. */
  stop: boolean;
  failureLimit: number | null;
}

/**
 * Notes the batch's failed counter as an activity returned it (the database's, so
 * failures in other ranges count too); past the limit, the run stops.
 */
export function noteBatchFailed(ctl: RunControl, batchFailed: number): void {
  if (ctl.failureLimit !== null && batchFailed > ctl.failureLimit) ctl.stop = true;
}
