import { ApplicationFailure } from '@temporalio/activity';
import { TransientJobError, type JobType } from '../job-types/job-type.js';
import type { JobTypeRegistry } from '../job-types/registry.js';
import { withDeadline } from '../lib/deadline.js';
import { toError } from '../lib/errors.js';
import { FailureTypes } from '../lib/names.js';

/**
 * How long an attempt's bookkeeping statement (or a chunk's) may go unanswered before
 * the attempt, or the chunk, fails (retryably, `StatementTimeout`). A statement on a
 * connection the server dropped can hang for 30 s and more, or never answer at all
 * (postgres.js loses it: seen in the chaos test's backend terminations, where a chunk
 * that kept heartbeating waited on its write for good). A statement that did commit
 * meanwhile is found on the retry: an ended job is not run again, a started attempt is
 * counted as one, a chunk's later try takes over its claim.
 */
export const ATTEMPT_STATEMENT_TIMEOUT_MS = 10_000;

export const statementTimeout = (): ApplicationFailure =>
  ApplicationFailure.create({ type: FailureTypes.StatementTimeout, message: `a database statement did not answer within ${ATTEMPT_STATEMENT_TIMEOUT_MS} ms` });

/** `statement`'s answer, or a `StatementTimeout` failure once `ms` (ATTEMPT_STATEMENT_TIMEOUT_MS) pass without one. */
export const answered = <T>(statement: Promise<T>, ms = ATTEMPT_STATEMENT_TIMEOUT_MS): Promise<T> => withDeadline(statement, ms, statementTimeout);

export const isStatementTimeout = (err: unknown): boolean => err instanceof ApplicationFailure && err.type === FailureTypes.StatementTimeout;

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
