/**
 * A chunk lane's clock on the attempt it runs. The job type's `timeoutMs` limits one
 * attempt; with one activity per job, Temporal's start-to-close timeout holds it to
 * that, and a chunk (one activity for many jobs) must do the same per job, or one
 * attempt that never ends holds its chunk, heartbeating, until the chunk's own timeout
 * (the type's timeout times the chunk's rounds: hours).
 *
 * The chunk's liveness tick (every 500 ms) ends an attempt past its time: the handler's
 * signal is aborted, and the lane stops waiting and goes on to its next job, the attempt
 * failed as one activity per job fails it (`Timeout:START_TO_CLOSE`, retried under the
 * same policy). A handler that ignores its signal runs on unobserved, as an activity
 * that ignores its cancellation does; what it returns then is not recorded.
 */
import { ApplicationFailure } from '@temporalio/activity';

/** The failure of an attempt past its time: the type and message Temporal gives an activity's. */
export const attemptTimedOut = (): ApplicationFailure => ApplicationFailure.create({ type: 'Timeout:START_TO_CLOSE', message: 'activity StartToClose timeout' });

export class AttemptClock {
  /** The signal to hand the lane's current attempt: the chunk's cancellation, or this attempt's timeout. */
  signal: AbortSignal;
  private controller = new AbortController();
  private since = 0;
  private expire: ((err: unknown) => void) | undefined;

  constructor(
    private readonly chunkSignal: AbortSignal,
    private readonly timeoutMs: number,
  ) {
    this.signal = AbortSignal.any([chunkSignal, this.controller.signal]);
  }

  /** `attempt`'s outcome, or its timeout's failure once the attempt, begun at `startedAt` (performance.now()), is past its time. */
  run<T>(startedAt: number, attempt: Promise<T>): Promise<T> {
    this.since = startedAt;
    return new Promise<T>((resolve, reject) => {
      this.expire = reject;
      // Only this attempt's own end clears its expiry: a timed-out attempt that ends later leaves the next one's alone.
      const done = () => {
        if (this.expire === reject) this.expire = undefined;
      };
      attempt.then(
        (value) => {
          done();
          resolve(value);
        },
        (err: unknown) => {
          done();
          reject(err);
        },
      );
    });
  }

  /** The liveness tick: ends the running attempt if it is past its time (`now` from performance.now()). */
  check(now: number): void {
    if (this.expire === undefined || now - this.since < this.timeoutMs) return;
    const expire = this.expire;
    this.expire = undefined;
    const err = attemptTimedOut();
    this.controller.abort(err);
    // The next attempt gets a signal of its own.
    this.controller = new AbortController();
    this.signal = AbortSignal.any([this.chunkSignal, this.controller.signal]);
    expire(err);
  }
}
