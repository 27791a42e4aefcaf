import { ApplicationFailure } from '@temporalio/activity';
import { TransientJobError, type JobType } from '../job-types/job-type.js';
import type { JobTypeRegistry } from '../job-types/registry.js';
import { toError } from '../lib/errors.js';
import { FailureTypes } from '../lib/names.js';

/** Longest error message kept on a job row. */
export const MAX_ERROR_MESSAGE = 4_000;

export interface ClassifiedFailure {
  type: string;
  message: string;
  nonRetryable: boolean;
  /** A handler's own say on when to try again (e.g. a Retry-After), overriding the backoff once. */
  retryAfterMs: number | undefined;
}

/** What a handler threw, as the retry policy sees it; the same in both execution modes. */
export function classifyFailure(err: unknown, type: JobType): ClassifiedFailure {
  if (err instanceof ApplicationFailure) {
    const failureType = err.type ?? 'Error';
    return {
      type: failureType,
      message: err.message.slice(0, MAX_ERROR_MESSAGE),
      nonRetryable: err.nonRetryable || type.policy.nonRetryableErrorTypes.includes(failureType),
      retryAfterMs: undefined,
    };
  }
  const e = toError(err);
  const failureType = e.name || 'Error';
  return {
    type: failureType,
    message: e.message.slice(0, MAX_ERROR_MESSAGE),
    nonRetryable: failureType === FailureTypes.FatalJobError || type.policy.nonRetryableErrorTypes.includes(failureType),
    retryAfterMs: e instanceof TransientJobError ? e.retryAfterMs : undefined,
  };
}

export function toApplicationFailure(f: ClassifiedFailure): ApplicationFailure {
  return ApplicationFailure.create({
    type: f.type,
    message: f.message,
    nonRetryable: f.nonRetryable,
    // Temporal's retry policy reads nextRetryDelay; a workflow that runs the retries
    // itself (local mode, workflows/local.ts) cannot (the SDK does not decode it), so the
    // delay also travels in the details.
    ...(f.retryAfterMs !== undefined ? { nextRetryDelay: f.retryAfterMs, details: [{ retryAfterMs: f.retryAfterMs } satisfies RetryAfterDetails] } : {}),
  });
}

/** The details of a failure whose handler said when to try again. */
export interface RetryAfterDetails {
  retryAfterMs: number;
}

/** The registered job type, or a non-retryable failure: a worker without it can never run the job. */
export function jobTypeOrFail(registry: JobTypeRegistry, name: string): JobType {
  const type = registry.get(name);
  if (type) return type;
  throw ApplicationFailure.create({
    type: FailureTypes.UnknownJobType,
    nonRetryable: true,
    message: `job type '${name}' is not registered on this worker`,
  });
}
