import { zValidator } from '@hono/zod-validator';
import { Hono } from 'hono';
import { z } from 'zod';
import { getBatch } from '../../db/batches.js';
import { getBatchSimilarity, listBatchClusters } from '../../db/batch-clusters.js';
import type { Sql } from '../../db/client.js';
import { DOCUMENT_ANALYZE } from '../../job-types/document-analyze.js';
import { ConflictError, NotFoundError } from '../../lib/errors.js';
import { TERMINAL_BATCH_STATUSES } from '../../lib/names.js';
import type { AuthEnv } from '../auth.js';
import { validationHook } from '../problem.js';
import { batchIdParam } from '../schemas.js';

export const listClustersQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    cursor: z
      .string()
      .regex(/^\d{1,10}$/, 'use the nextCursor value of the previous page')
      .optional(),
  })
  .strict();

/** GET /v1/batches/:id/clusters: a document.analyze batch's similarity summary and near-duplicate clusters. */
export function clusterRoutes({ sql }: { sql: Sql }) {
  return new Hono<AuthEnv>().get(
    '/:id/clusters',
    zValidator('param', batchIdParam, validationHook('path')),
    zValidator('query', listClustersQuery, validationHook('query')),
    async (c) => {
      const { id } = c.req.valid('param');
      const q = c.req.valid('query');
      const batch = await getBatch(sql, c.get('principal').tenantId, id);
      if (!batch) throw new NotFoundError(`No batch ${id} for this tenant.`);
      if (batch.jobType !== DOCUMENT_ANALYZE) {
        throw new ConflictError(`Batch ${id} is a '${batch.jobType}' batch; only '${DOCUMENT_ANALYZE}' batches have clusters.`);
      }
      const similarity = await getBatchSimilarity(sql, id);
      if (!similarity) {
        if (!TERMINAL_BATCH_STATUSES.includes(batch.status)) {
          throw new ConflictError(`Batch ${id} is ${batch.status}; clusters are computed when it ends. Ask again then.`);
        }
        throw new NotFoundError(
          `No clusters for batch ${id} yet: they are computed right after it ends, so ask again in a moment (a batch cancelled before it ended gets none).`,
        );
      }
      const rows = await listBatchClusters(sql, id, { afterNo: q.cursor === undefined ? -1 : Number(q.cursor), limit: q.limit });
      const last = rows.at(-1);
      return c.json(
        {
          batchId: id,
          method: similarity.method,
          computedAt: similarity.computedAt.toISOString(),
          summary: similarity.summary,
          items: rows.map((r) => ({ cluster: r.clusterNo, size: r.size, meanSimilarity: r.meanSimilarity, members: r.members })),
          nextCursor: rows.length === q.limit && last ? String(last.clusterNo) : null,
        },
        200,
      );
    },
  );
}
