import { zValidator } from '@hono/zod-validator';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Sql } from '../../db/client.js';
import * as batches from '../../db/batches.js';
import { claimIdempotencyKey } from '../../db/idempotency-keys.js';
import * as jobs from '../../db/jobs.js';
import { topErrorTypes, type ErrorTypeCount } from '../../db/job-results.js';
import type { ExecutionMode, JobType } from '../../job-types/job-type.js';
import { chooseMode, validateInputs, type JobTypeRegistry } from '../../job-types/registry.js';
import { InvalidInputError, NotFoundError, PayloadTooLargeError, UnavailableError, toError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import { batchWorkflowId } from '../../lib/names.js';
import { startBatchWorkflow, temporalUiLink, type TemporalDeps } from '../../temporal/batch-client.js';
import type { AuthEnv } from '../auth.js';
import { validationHook } from '../problem.js';
import { mediaType, requireJson } from '../content-type.js';
import { ndjsonPages } from '../ndjson.js';
import { batchIdParam, createBatchBody, ingestQuery, LIMITS, listJobsQuery } from '../schemas.js';
import { settingsOf, type BatchOptions } from '../batch-settings.js';
import { batchView, jobView } from '../views.js';
import {
  checkReplay,
  drain,
  findKey,
  hashedStream,
  idempotencyKeyOf,
  IdempotencyKeyTaken,
  jsonRequestHash,
  ndjsonHasher,
  type IdempotentRequest,
} from '../idempotency.js';
import { errorSummaryCache } from '../error-summary.js';

export interface BatchRouteDeps {
  sql: Sql;
  temporal: TemporalDeps;
  registry: JobTypeRegistry;
  log: Logger;
}

export function batchRoutes({ sql, temporal, registry, log }: BatchRouteDeps) {
  const errorSummaries = errorSummaryCache<ErrorTypeCount[]>();
  const view = (row: batches.BatchRow) =>
    batchView(row, {
      self: `/v1/batches/${row.id}`,
      jobs: `/v1/batches/${row.id}/jobs`,
      temporalUi: temporalUiLink(temporal, row.workflowId),
    });

  const jobTypeOf = (name: string, where: 'body' | 'query') => {
    const type = registry.get(name);
    if (type) return type;
    const known = [...registry.keys()].join(', ');
    throw new InvalidInputError(`Unknown job type '${name}'; registered types: ${known}.`, [
      { path: `${where}.type`, message: `unknown job type; use one of: ${known}` },
    ]);
  };

  /** 200 with the batch an earlier request with the same Idempotency-Key created (or 422 if the request differs). */
  const replay = async (c: Context<AuthEnv>, key: string, digest: Buffer) => {
    const { tenantId } = c.get('principal');
    const record = await findKey(sql, tenantId, key);
    const row = record ? await batches.getBatch(sql, tenantId, checkReplay(record, digest)) : undefined;
    if (!row) throw new UnavailableError('The batch for this Idempotency-Key is being taken back; send the request again.');
    c.header('Location', `/v1/batches/${row.id}`);
    return c.json(view(row), 200);
  };

  /**
   * Writes the batch and its jobs in one transaction (with its Idempotency-Key, if
   * any), then starts its workflow (or takes it all back).
   */
  const create = async (
    c: Context<AuthEnv>,
    type: JobType,
    options: BatchOptions,
    inputs: Iterable<unknown> | AsyncIterable<readonly unknown[]>,
    settle?: () => { mode: ExecutionMode },
    idem?: IdempotentRequest,
  ) => {
    const { tenantId, tenantName, keyId } = c.get('principal');
    let batch: batches.BatchRow;
    try {
      batch = await sql.begin(async (tx) => {
        const row = await batches.insertBatch(
          tx,
          { tenantId, createdBy: keyId, workflowIdOf: batchWorkflowId, ...settingsOf(type, options) },
          inputs,
          settle,
        );
        if (idem && !(await claimIdempotencyKey(tx, tenantId, idem.key, idem.digest(), row.id))) throw new IdempotencyKeyTaken();
        return row;
      });
    } catch (err) {
      // A concurrent request with the same key committed first: this one answers as a replay.
      if (idem && err instanceof IdempotencyKeyTaken) return replay(c, idem.key, idem.digest());
      throw err;
    }
    try {
      await startBatchWorkflow(temporal, batch, tenantName, type.policy.timeoutMs);
    } catch (err) {
      // Without its workflow the batch would never run: take it back, answer 503.
      log.error({ err: toError(err), batchId: batch.id, requestId: c.get('requestId') }, 'could not start the batch workflow');
      await batches.deleteBatch(sql, batch.id);
      throw new UnavailableError('Temporal did not accept the batch; nothing was stored. Try again shortly.');
    }
    log.info({ batchId: batch.id, tenantId, jobs: batch.totalJobs, type: type.name, mode: batch.mode, requestId: c.get('requestId') }, 'batch submitted');
    c.header('Location', `/v1/batches/${batch.id}`);
    return c.json(view(batch), 202);
  };

  return new Hono<AuthEnv>()
    .post(
      '/',
      // NDJSON: options in the query, one item per line, streamed into PostgreSQL.
      async (c, next) => {
        if (mediaType(c.req.header('Content-Type')) !== 'application/x-ndjson') return next();
        const parsed = ingestQuery.safeParse(c.req.query());
        if (!parsed.success) validationHook('query')(parsed);
        const q = parsed.data!;
        const type = jobTypeOf(q.type, 'query');
        const key = idempotencyKeyOf(c);
        const hash = ndjsonHasher(c.req.query());
        const body = hashedStream(c.req.raw.body, hash);
        if (key && (await findKey(sql, c.get('principal').tenantId, key))) {
          await drain(body);
          return replay(c, key, hash.digest());
        }
        let digest: Buffer | undefined;
        const idem = key ? { key, digest: () => (digest ??= hash.digest()) } : undefined;
        let allChunk = Boolean(type.chooseMode);
        const inputs = (async function* () {
          for await (const page of ndjsonPages(body, type)) {
            if (allChunk) allChunk = page.every((input) => type.chooseMode!(input) === 'chunk');
            yield page;
          }
        })();
        const options: BatchOptions = {
          maxRetries: q.maxRetries,
          concurrency: q.concurrency,
          mode: q.mode,
          toleratedFailures: q.toleratedFailures,
          backoff: { initialIntervalMs: q.backoffInitialMs, coefficient: q.backoffCoefficient, maximumIntervalMs: q.backoffMaxMs },
        };
        return create(c, type, options, inputs, () => ({ mode: q.mode ?? (allChunk ? 'chunk' : type.policy.mode) }), idem);
      },
      bodyLimit({
        maxSize: LIMITS.maxBodyBytes,
        onError: () => {
          throw new PayloadTooLargeError(
            `The JSON body is over ${LIMITS.maxBodyBytes / 1024 / 1024} MiB; send large batches as NDJSON (Content-Type: application/x-ndjson).`,
          );
        },
      }),
      requireJson,
      zValidator('json', createBatchBody, validationHook('body')),
      async (c) => {
        const body = c.req.valid('json');
        const key = idempotencyKeyOf(c);
        const digest = jsonRequestHash(body);
        if (key && (await findKey(sql, c.get('principal').tenantId, key))) return replay(c, key, digest);
        const type = jobTypeOf(body.type, 'body');
        const checked = validateInputs(
          type,
          body.items.map((i) => i.input),
          (i) => `body.items.${i}.input`,
        );
        if (!checked.ok) {
          throw new InvalidInputError(
            `${checked.invalidCount} of ${body.items.length} items do not match the '${type.name}' input schema; see errors for each offending item.`,
            checked.errors,
          );
        }
        const mode = body.mode ?? chooseMode(type, checked.values);
        return create(c, type, { ...body, mode }, checked.values, undefined, key ? { key, digest: () => digest } : undefined);
      },
    )
    .get('/:id', zValidator('param', batchIdParam, validationHook('path')), async (c) => {
      const { id } = c.req.valid('param');
      const row = await batches.getBatch(sql, c.get('principal').tenantId, id);
      if (!row) throw new NotFoundError(`No batch ${id} for this tenant.`);
      // No failed job, no summary to read; otherwise a kept one while it is fresh enough
      // (api/error-summary.ts).
      const errors = row.failedJobs > 0 ? await errorSummaries.get(id, row, () => topErrorTypes(sql, id)) : [];
      return c.json({ ...view(row), errors: errors.map((e) => ({ type: e.errorType ?? 'Error', count: e.count, sample: e.sample })) }, 200);
    })
    .get(
      '/:id/jobs',
      zValidator('param', batchIdParam, validationHook('path')),
      zValidator('query', listJobsQuery, validationHook('query')),
      async (c) => {
        const { id } = c.req.valid('param');
        const q = c.req.valid('query');
        const row = await batches.getBatch(sql, c.get('principal').tenantId, id);
        if (!row) throw new NotFoundError(`No batch ${id} for this tenant.`);
        const items = await jobs.listJobs(sql, id, {
          afterSeq: q.cursor === undefined ? -1 : Number(q.cursor),
          limit: q.limit,
          status: q.status,
        });
        const last = items.at(-1);
        return c.json(
          {
            items: items.map(jobView),
            nextCursor: items.length === q.limit && last ? String(last.seq) : null,
          },
          200,
        );
      },
    );
}
