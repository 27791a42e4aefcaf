import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { defineJobType, FatalJobError, TransientJobError } from './job-type.js';

const CHUNK_MAX_MS = 1_000;

/**
 * Diagnostic job type for tests, demos and benchmarks: waits `ms`, then fails
 * retryably on its first `failTimes` attempts, or non-retryably when `fatal`.
 */
export const sleepJobType = defineJobType({
  name: 'sleep',
  description: 'Waits `ms` milliseconds; fails retryably on its first `failTimes` attempts, or for good when `fatal`.',
  input: z
    .object({
      ms: z.int().min(0).max(3_600_000),
      failTimes: z.int().min(0).max(100).default(0),
      fatal: z.boolean().default(false),
    })
    .strict(),
  policy: {
    backoff: { initialIntervalMs: 100, coefficient: 2, maximumIntervalMs: 10_000 },
    timeoutMs: 2 * 3_600_000,
    heartbeatTimeoutMs: 10_000,
  },
  // Short sleeps are engine overhead, not work: run them many to an activity.
  chooseMode: (input) => (input.ms <= CHUNK_MAX_MS ? 'chunk' : 'activity'),
  async handler(input, ctx) {
    if (input.ms > 0) await delay(input.ms, undefined, { signal: ctx.signal });
    if (input.fatal) throw new FatalJobError('sleep job was asked to fail for good (fatal: true)');
    if (ctx.attempt <= input.failTimes) {
      throw new TransientJobError(`sleep job fails its first ${input.failTimes} attempts; this was attempt ${ctx.attempt}`);
    }
    return { sleptMs: input.ms, attempt: ctx.attempt };
  },
});
