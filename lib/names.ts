/**
 * Names shared by the API, the worker and the workflows: task queue, workflow ids,
 * search attributes, lifecycle values and Temporal failure types. Pure and
 * deterministic, so workflows may import it.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const BATCH_STATUSES = ['pending', 'running', 'completed', 'partial', 'failed', 'cancelled'] as const;
export type BatchStatus = (typeof BATCH_STATUSES)[number];
export const TERMINAL_BATCH_STATUSES: readonly BatchStatus[] = ['completed', 'partial', 'failed', 'cancelled'];

export const JOB_STATUSES = ['pending', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const batchWorkflowId = (batchId: string): string => `batch-${batchId}`;

export const CONSOLIDATION_STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled'] as const;
export type ConsolidationStatus = (typeof CONSOLIDATION_STATUSES)[number];
export const TRIGGER_TYPES = ['scheduled', 'manual', 'threshold'] as const;
export type TriggerType = (typeof TRIGGER_TYPES)[number];
/** In the order they run; `phases_completed` holds a prefix of this list. */
export const CONSOLIDATION_PHASES = ['collect', 'stats', 'cluster', 'retention'] as const;
export type ConsolidationPhase = (typeof CONSOLIDATION_PHASES)[number];

/**
 * What a consolidation covers, fixed by its `collect` phase: the tenant's finished,
 * not yet consolidated batches, narrowed by job type, batch ids and/or the time the
 * batch finished (`from` inclusive, `to` exclusive, ISO 8601).
 */
export interface ConsolidationScope {
  jobTypes?: string[] | undefined;
  batchIds?: string[] | undefined;
  from?: string | undefined;
  to?: string | undefined;
}

/** One id per tenant, so Temporal itself keeps at most one consolidation running per tenant. */
export const consolidationWorkflowId = (tenantId: string): string => `consolidation-${tenantId}`;
/** The tenant id in the schedule id keeps tenants' schedule names from colliding. */
export const consolidationScheduleId = (tenantId: string, name: string): string => `consolidation-${tenantId}-${name}`;
/** Workflow id prefix of a schedule's runs; the server appends the scheduled time. */
export const scheduledConsolidationWorkflowId = (tenantId: string, name: string): string =>
  `consolidation-schedule-${tenantId}-${name}`;

export const SearchAttributes = {
  TenantId: defineSearchAttributeKey('TenantId', SearchAttributeType.KEYWORD),
  BatchId: defineSearchAttributeKey('BatchId', SearchAttributeType.KEYWORD),
  BatchStatus: defineSearchAttributeKey('BatchStatus', SearchAttributeType.KEYWORD),
  JobType: defineSearchAttributeKey('JobType', SearchAttributeType.KEYWORD),
  ConsolidationTrigger: defineSearchAttributeKey('ConsolidationTrigger', SearchAttributeType.KEYWORD),
} as const;

/** Every search attribute the dev server must know, as `Name=Type` for `--search-attribute`. */
export const SEARCH_ATTRIBUTE_FLAGS = Object.values(SearchAttributes).map((k) => `${k.name}=Keyword`);

/**
 * Temporal failure types raised by our activities. Those marked non-retryable end a
 * job (or an activity) at once, whatever its retry budget.
 */
export const FailureTypes = {
  /** The job's input no longer passes its type's schema (e.g. the schema changed). */
  InvalidJobInput: 'InvalidJobInput',
  /** The job type is not registered on this worker. */
  UnknownJobType: 'UnknownJobType',
  /** A handler asked for no retry. */
  FatalJobError: 'FatalJobError',
  /** A handler failed and may succeed if tried again. */
  TransientJobError: 'TransientJobError',
  /** The row an activity works on is gone (batch deleted). */
  NotFound: 'NotFound',
  /** An attempt timed out by Temporal finished after a later attempt had started; the later one counts. */
  AttemptSuperseded: 'AttemptSuperseded',
  /** A chunked attempt that may have run, but its worker stopped before recording the outcome. */
  AttemptLost: 'AttemptLost',
  /** A local-mode attempt's bookkeeping statement went unanswered (activities/job.ts); retried. */
  StatementTimeout: 'StatementTimeout',
} as const;

export const NON_RETRYABLE_FAILURE_TYPES: readonly string[] = [
  FailureTypes.InvalidJobInput,
  FailureTypes.UnknownJobType,
  FailureTypes.FatalJobError,
  FailureTypes.NotFound,
];
