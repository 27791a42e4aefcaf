/** Request schemas: the single source of what the API accepts. */
import { z } from 'zod';
import { EXECUTION_MODES } from '../job-types/job-type.js';
import { BATCH_STATUSES, JOB_STATUSES } from '../lib/names.js';

export const LIMITS = {
  /** Items in one JSON submission. */
  maxItems: 100_000,
  /** Bytes in one request body. */
  maxBodyBytes: 64 * 1024 * 1024,
  /** Largest failure count a batch may tolerate (more than any batch holds). */
  maxTolerated: 100_000_000,
} as const;

/** "10%" or "2.5%": a share of the batch's jobs, up to 100%. */
const tolerancePercent = z
  .string()
  .regex(/^\d{1,3}(\.\d{1,2})?%$/, 'a count like 5, or a percentage like "10%"')
  .refine((v) => Number.parseFloat(v) <= 100, 'a percentage is at most 100%');

/** Failures a batch tolerates before it stops and fails: a count or a percentage of its jobs. */
export const toleratedFailures = z.union([z.int().min(0).max(LIMITS.maxTolerated), tolerancePercent], 'a count like 5, or a percentage like "10%"');

export const createBatchBody = z
  .object({
    type: z.string().min(1, 'name a registered job type, e.g. "sleep"'),
    items: z
      .array(z.object({ input: z.unknown() }).strict(), 'items must be an array of { "input": ... } objects')
      .min(1, 'a batch needs at least one item')
      .max(LIMITS.maxItems, `at most ${LIMITS.maxItems} items per JSON request`),
    maxRetries: z.int().min(0).max(100).optional(),
    concurrency: z.int().min(1).max(1000).optional(),
    mode: z.enum(EXECUTION_MODES).optional(),
    toleratedFailures: toleratedFailures.optional(),
    backoff: z
      .object({
        initialIntervalMs: z.int().min(1).max(3_600_000).optional(),
        coefficient: z.number().min(1).max(10).optional(),
        maximumIntervalMs: z.int().min(1).max(86_400_000).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type CreateBatchBody = z.infer<typeof createBatchBody>;

/** Batch options for an NDJSON upload, whose body holds only the items. */
export const ingestQuery = z
  .object({
    type: z.string().min(1, 'name a registered job type, e.g. ?type=sleep'),
    maxRetries: z.coerce.number().int().min(0).max(100).optional(),
    concurrency: z.coerce.number().int().min(1).max(1000).optional(),
    mode: z.enum(EXECUTION_MODES).optional(),
    backoffInitialMs: z.coerce.number().int().min(1).max(3_600_000).optional(),
    backoffCoefficient: z.coerce.number().min(1).max(10).optional(),
    backoffMaxMs: z.coerce.number().int().min(1).max(86_400_000).optional(),
    toleratedFailures: z.union([z.string().regex(/^\d{1,9}$/).transform(Number), tolerancePercent]).optional(),
  })
  .strict();

export const batchIdParam = z.object({
  id: z.uuid('must be a UUID, e.g. 3b241101-e2bb-4255-8caf-4136c566a962'),
});

export const listJobsQuery = z
  .object({
    status: z.enum(JOB_STATUSES).optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    cursor: z
      .string()
      .regex(/^\d{1,10}$/, 'use the nextCursor value of the previous page')
      .optional(),
  })
  .strict();

export const listBatchesQuery = z
  .object({
    status: z.enum(BATCH_STATUSES).optional(),
    type: z.string().min(1).max(200).optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
    cursor: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,200}$/, 'use the nextCursor value of the previous page')
      .optional(),
  })
  .strict();

export const retryBody = z
  .object({
    errorType: z.string().min(1).max(200).optional(),
  })
  .strict();

export const patchBatchBody = z
  .object({
    concurrency: z.int().min(1).max(1000),
  })
  .strict();

export const resultsQuery = z
  .object({
    format: z.enum(['ndjson', 'csv']).optional(),
  })
  .strict();

export const idempotencyKeyHeader = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces, e.g. a UUID');
