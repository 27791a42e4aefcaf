import type { NewBatch } from '../db/batches.js';
import type { ExecutionMode, JobType } from '../job-types/job-type.js';

/** What a submitter may set on a batch; the job type's policy fills the rest. */
export interface BatchOptions {
  maxRetries?: number | undefined;
  concurrency?: number | undefined;
  mode?: ExecutionMode | undefined;
  /** A count, or a percentage string like "10%". */
  toleratedFailures?: number | string | undefined;
  backoff?: { initialIntervalMs?: number | undefined; coefficient?: number | undefined; maximumIntervalMs?: number | undefined } | undefined;
}

export const DEFAULT_CONCURRENCY = 10;

export function settingsOf(type: JobType, o: BatchOptions): Omit<NewBatch, 'tenantId' | 'createdBy' | 'workflowIdOf'> {
  return {
    jobType: type.name,
    mode: o.mode ?? type.policy.mode,
    concurrency: o.concurrency ?? DEFAULT_CONCURRENCY,
    maxRetries: o.maxRetries ?? type.policy.maxRetries,
    retryInitialIntervalMs: o.backoff?.initialIntervalMs ?? type.policy.backoff.initialIntervalMs,
    retryBackoffCoefficient: o.backoff?.coefficient ?? type.policy.backoff.coefficient,
    retryMaximumIntervalMs: o.backoff?.maximumIntervalMs ?? type.policy.backoff.maximumIntervalMs,
    toleratedFailures: typeof o.toleratedFailures === 'number' ? o.toleratedFailures : null,
    toleratedFailuresPercent: typeof o.toleratedFailures === 'string' ? Number.parseFloat(o.toleratedFailures) : null,
  };
}
