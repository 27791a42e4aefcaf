/**
 * A chunk lane's clock on the attempt it runs. The job type's `timeoutMs` limits one
 * attempt; with one activity per job, Temporal's start-to-close timeout holds it to
 * that, and a chunk (one activity for many jobs) must do the same per job, or one
 * attempt that never ends holds its chunk, heartbeating, until the chunk's own timeout
 * (the type's timeout times the chunk's rounds: hours).
 *
 * The chunk's liveness tick (every 500 ms) ends an attempt past its time: the handler's
 * signal is aborted, the attempt is recorded failed as one activity per job records it
 * (`Timeout:START_TO_CLOSE`, retried under the same policy), and the lane gives its place
 * to a new one, which goes on with the next job. The old lane records nothing more: a
 * handler that ignores its signal runs on unobserved, as an activity that ignores its
 * cancellation does. Per job, the lane only notes the job and its start on the clock: a
 * promise raced against the timeout, per job, cost W1 chunked about a tenth of its rate.
 */
import { ApplicationFailure } from '@temporalio/activity';

/** The failure of an attempt past its time: the type and message Temporal gives an activity's. */
export const attemptTimedOut = (): ApplicationFailure => ApplicationFailure.create({ type: 'Timeout:START_TO_CLOSE', message: 'activity StartToClose timeout' });

export class AttemptClock<J> {
  /** The signal to hand the lane's attempts: the chunk's cancellation, or an attempt's timeout. */
  readonly signal: AbortSignal;
  private readonly controller = new AbortController();
  /** The attempt running, if any: its job, and its start (performance.now()). */
  job: J | undefined;
  since = 0;
  /** Set once an attempt ran past its time: the lane is replaced and records nothing more. */
  abandoned = false;

  constructor(
    chunkSignal: AbortSignal,
    private readonly timeoutMs: number,
    private readonly onTimeout: (job: J, since: number, err: ApplicationFailure) => void,
  ) {
    this.signal = AbortSignal.any([chunkSignal, this.controller.signal]);
  }

  /** The liveness tick (`now` from performance.now()): ends the running attempt if it is past its time. */
  check(now: number): void {
    if (this.abandoned || this.job === undefined || now - this.since < this.timeoutMs) return;
    this.abandoned = true;
    const err = attemptTimedOut();
    this.controller.abort(err);
    this.onTimeout(this.job, this.since, err);
  }
}
