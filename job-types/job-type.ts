/**
 * The job-type contract. A job type is a name, a zod input schema, a handler and a
 * default policy; the API validates inputs with the schema at submit time and the
 * worker runs the handler.
 */
import type { z } from 'zod';

export const EXECUTION_MODES = ['activity', 'chunk', 'local'] as const;
/**
 * `activity`: one Temporal activity per job, every attempt visible in the UI (heavy jobs).
 * `chunk`: one activity runs many jobs and writes their outcomes in bulk; the workflow
 * retries failed ones after the backoff with durable timers (light jobs).
 * `local`: one Temporal local activity per job, run by the worker that runs the batch's
 * workflow: Temporal's retry policy per job as in `activity`, without a round trip
 * through the server per attempt; each job's outcome is a marker in the history. No
 * heartbeat timeout (a dead worker is found by the workflow task's timeout), and
 * pauses, cancels and concurrency changes reach the run at its next workflow task
 * (within seconds). For jobs of milliseconds to seconds.
 */
export type ExecutionMode = (typeof EXECUTION_MODES)[number];

export interface JobPolicy {
  /** How jobs run by default; see ExecutionMode. */
  mode: ExecutionMode;
  /** Retries after the first attempt; a batch may override it. */
  maxRetries: number;
  /** Exponential backoff between attempts. */
  backoff: { initialIntervalMs: number; coefficient: number; maximumIntervalMs: number };
  /** Limit for one attempt. */
  timeoutMs: number;
  /** A worker that stops heartbeating for this long is presumed dead; the attempt is retried. */
  heartbeatTimeoutMs: number;
  /** Error names (Error.name or ApplicationFailure type) that end a job without retry. */
  nonRetryableErrorTypes: readonly string[];
}

/** Per-tenant settings a handler may need; see db/tenant-settings.ts. */
export interface TenantSettings {
  /** Hosts `http.request` may reach even when they resolve to private or loopback addresses. */
  httpAllowHosts: readonly string[];
}

export interface JobContext {
  /** The job's attempt number, from 1; it keeps counting across redrives. */
  attempt: number;
  jobId: string;
  batchId: string;
  tenantId: string;
  /** Aborted when the batch is cancelled or the attempt times out. */
  signal: AbortSignal;
  /** Reports liveness (done automatically too) and optional progress details. */
  heartbeat(details?: unknown): void;
  log: (msg: string, fields?: Record<string, unknown>) => void;
  /**
   * The tenant's settings, read on first call (most handlers never need them).
   * Optional so runners that do not provide it keep compiling; handlers must treat
   * its absence as "no settings" (for http.request: an empty allow-list).
   */
  tenantSettings?: () => Promise<TenantSettings>;
}

export interface JobType<In = unknown, Out = unknown> {
  name: string;
  description: string;
  input: z.ZodType<In>;
  handler: (input: In, ctx: JobContext) => Promise<Out>;
  policy: JobPolicy;
  /** Per-input choice of mode; a batch runs chunked only when every input chooses it. */
  chooseMode?: (input: In) => ExecutionMode;
}

export const DEFAULT_POLICY: JobPolicy = Object.freeze({
  mode: 'activity',
  maxRetries: 3,
  backoff: { initialIntervalMs: 1_000, coefficient: 2, maximumIntervalMs: 60_000 },
  timeoutMs: 5 * 60_000,
  heartbeatTimeoutMs: 30_000,
  nonRetryableErrorTypes: [],
});

export function defineJobType<S extends z.ZodType, Out>(def: {
  name: string;
  description: string;
  input: S;
  handler: (input: z.output<S>, ctx: JobContext) => Promise<Out>;
  policy?: Partial<JobPolicy>;
  chooseMode?: (input: z.output<S>) => ExecutionMode;
}): JobType {
  // The handler only ever sees values that passed `input`, so erasing its input type
  // for the registry is safe.
  return {
    name: def.name,
    description: def.description,
    input: def.input,
    handler: def.handler as JobType['handler'],
    policy: { ...DEFAULT_POLICY, ...def.policy },
    ...(def.chooseMode ? { chooseMode: def.chooseMode as NonNullable<JobType['chooseMode']> } : {}),
  };
}

/** Throw from a handler to fail the job at once, without retries. */
export class FatalJobError extends Error {
  override readonly name = 'FatalJobError';
}

/**
 * Throw from a handler for a failure worth retrying; `retryAfterMs` overrides the
 * backoff once. It carries no stack trace: a retryable failure is expected, and an
 * attempt's outcome keeps its type and message, never a stack. Capturing one cost
 * about 4.5 µs a throw, 6% of the worker's main thread in W3 (20,000 failed attempts).
 */
export class TransientJobError extends Error {
  declare readonly name: 'TransientJobError';
  readonly retryAfterMs: number | undefined;
  constructor(message: string, retryAfterMs?: number) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super(message);
    } finally {
      Error.stackTraceLimit = limit;
    }
    this.retryAfterMs = retryAfterMs;
  }
}
Object.defineProperty(TransientJobError.prototype, 'name', { value: 'TransientJobError', writable: true, configurable: true });
