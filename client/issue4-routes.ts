/**
 * Batch control routes (issue 4): list, cancel, pause, resume, concurrency, retry,
 * delete and results, called through Hono's `hc` over the app's own type like the
 * others. Results come back as the body stream (NDJSON or CSV), not parsed.
 */
import type { hc } from 'hono/client';
import type { AppType } from '../api/app.js';
import { BatchworksError, unwrap } from './errors.js';

export interface BatchListQuery {
  status?: string;
  type?: string;
  limit?: number;
  cursor?: string;
}

export type ResultsFormat = 'ndjson' | 'csv';

type Api = ReturnType<typeof hc<AppType>>;

export function issue4Routes(api: Api) {
  const batches = api.v1.batches;
  const one = (id: string) => ({ param: { id } });
  return {
    /** GET /v1/batches?status=&type=&limit=&cursor=, newest first. */
    listBatches: (q: BatchListQuery = {}) =>
      unwrap(
        batches.$get({
          query: {
            ...(q.status ? { status: q.status as 'running' } : {}),
            ...(q.type ? { type: q.type } : {}),
            ...(q.limit !== undefined ? { limit: String(q.limit) } : {}),
            ...(q.cursor ? { cursor: q.cursor } : {}),
          },
        }),
      ),
    /** POST /v1/batches/:id/cancel (idempotent; 409 once the batch has ended otherwise). */
    cancelBatch: (id: string) => unwrap(batches[':id'].cancel.$post(one(id))),
    pauseBatch: (id: string) => unwrap(batches[':id'].pause.$post(one(id))),
    resumeBatch: (id: string) => unwrap(batches[':id'].resume.$post(one(id))),
    /** PATCH /v1/batches/:id { concurrency }: takes effect on the running workflow. */
    setConcurrency: (id: string, concurrency: number) => unwrap(batches[':id'].$patch({ ...one(id), json: { concurrency } })),
    /** POST /v1/batches/:id/retry { errorType? }: re-runs the failed jobs. */
    retryBatch: (id: string, body: { errorType?: string } = {}) => unwrap(batches[':id'].retry.$post({ ...one(id), json: body })),
    /** DELETE /v1/batches/:id on a finished batch. */
    async deleteBatch(id: string): Promise<void> {
      const res = await batches[':id'].$delete(one(id));
      if (!res.ok) throw await BatchworksError.from(res);
    },
    /** GET /v1/batches/:id/results as NDJSON or CSV: the body stream, not parsed. */
    async results(id: string, format: ResultsFormat = 'ndjson'): Promise<ReadableStream<Uint8Array>> {
      const res = await batches[':id'].results.$get({ ...one(id), query: { format } });
      if (!res.ok) throw await BatchworksError.from(res);
      if (!res.body) throw new BatchworksError(res.status, 'about:blank', 'Empty response', 'The results answer had no body.');
      return res.body;
    },
  };
}
