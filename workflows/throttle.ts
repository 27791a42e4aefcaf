/**
 * Backoff while a tenant is at its cap on jobs in flight (activities/tenant-cap.ts):
 * work that found no slot free waits a durable timer, 200 ms at first, doubling up to
 * 2 s while it keeps finding none, and starts again from 200 ms once work gets through.
 */
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
