/**
 * Backoff while a tenant is at its cap on jobs in flight (activities/tenant-cap.ts):
 * work that found no slot free waits a durable timer, 200 ms at first, doubling up to
 * 2 s while it keeps finding none, and starts again from 200 ms once work gets through.
 */
import { condition, sleep } from '@temporalio/workflow';

const FIRST_MS = 200;
const MAX_MS = 2_000;

export interface ThrottleBackoff {
  /** True from a throttled answer until the next answer that was not. */
  readonly active: boolean;
  /** The delay before trying again after a throttled answer. */
  next(): number;
  reset(): void;
}

export function throttleBackoff(): ThrottleBackoff {
  let ms = 0;
  return {
    get active() {
      return ms > 0;
    },
    next() {
      ms = ms === 0 ? FIRST_MS : Math.min(MAX_MS, ms * 2);
      return ms;
    },
    reset() {
      ms = 0;
    },
  };
}

/**
 * Where one-activity-per-job mode parks jobs that came back throttled, so that a run
 * does not keep every one of them polling (each poll is an activity and a timer in the
 * history: a batch of concurrency 1,000 against a cap of 10 would fill its history in
 * seconds). One loop lets parked jobs try again, a window of them per round: the window
 * doubles while none come back throttled (and the delay is back at 200 ms), and shrinks
 * to the number that got in, with the delay doubling up to 2 s, when some do.
 */
export interface AdmissionGate {
  /** Jobs waiting for their turn. */
  readonly parked: number;
  /** Waits until the gate lets this job try again; `again` when the gate had let it through before. */
  park(again: boolean): Promise<void>;
}

export function admissionGate(o: { hold: () => boolean; stopped: () => boolean; maxWindow: () => number }): AdmissionGate {
  const queue: Array<{ go: boolean }> = [];
  let delay = FIRST_MS;
  let window = 1;
  let released = 0;
  let bounced = 0;
  let pumping = false;

  const pump = async () => {
    pumping = true;
    try {
      while (queue.length > 0 && !o.stopped()) {
        await sleep(delay);
        if (released > 0) {
          if (bounced > 0) {
            window = Math.max(1, released - bounced);
            delay = Math.min(MAX_MS, delay * 2);
          } else {
            window = Math.min(Math.max(1, o.maxWindow()), window * 2);
            delay = FIRST_MS;
          }
        }
        if (o.hold()) await condition(() => !o.hold() || o.stopped());
        const turn = queue.splice(0, window);
        for (const t of turn) t.go = true;
        released = turn.length;
        bounced = 0;
      }
    } finally {
      pumping = false;
    }
  };

  return {
    get parked() {
      return queue.length;
    },
    async park(again) {
      if (again) bounced++;
      const ticket = { go: false };
      queue.push(ticket);
      // A cancelled pump (the attempts' scope) cancels the parked jobs' waits with it.
      if (!pumping) void pump().catch(() => {});
      await condition(() => ticket.go || o.stopped());
    },
  };
}
