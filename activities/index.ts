import type { Sql } from '../db/client.js';
import type { JobTypeRegistry } from '../job-types/registry.js';
import type { Logger } from '../lib/logger.js';
import { createBatchActivities } from './batch.js';
import { createChunkActivities } from './chunk.js';
import { createConsolidationActivities } from './consolidation.js';
import { createDocumentActivities } from './documents.js';
import { createJobActivities } from './job.js';

export interface ActivityDeps {
  sql: Sql;
  registry: JobTypeRegistry;
  log: Logger;
  /** The cap on a tenant's jobs in flight when it has none of its own (TENANT_MAX_JOBS_IN_FLIGHT). */
  tenantMaxJobsInFlight: number;
}

/** Every activity the worker registers, built over injected dependencies. */
export function createActivities(deps: ActivityDeps) {
  const chunk = createChunkActivities(deps);
  return {
    ...createBatchActivities(deps, chunk.runChunk),
    ...createJobActivities(deps),
    ...chunk,
    ...createConsolidationActivities(deps),
    ...createDocumentActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
export type { BatchPlan, BatchSnapshot } from './batch.js';
export type { JobOutcome } from './job.js';
export type { RetryAfterDetails } from './failures.js';
export type { ChunkArgs, ChunkResult, JobRef, RetryEntry } from './chunk-contract.js';
export type { ConsolidationClaim, ConsolidationState } from './consolidation.js';
export type { SimilaritySummary } from './documents.js';
