/**
 * Typed client: `import { createClient } from 'batchworks/client'`. Routes this
 * build serves are called through Hono's `hc` over the app's own type, so request
 * and response shapes cannot drift from the server; every non-2xx answer throws a
 * BatchworksError carrying the API's problem details.
 */
import { hc } from 'hono/client';
import type { AppType } from '../api/app.js';
import type { CreateBatchBody } from '../api/schemas.js';
import { unwrap } from './errors.js';
import { issue4Routes } from './issue4-routes.js';

export { BatchworksError, type FieldError } from './errors.js';
export type { BatchListQuery, ResultsFormat } from './issue4-routes.js';

export interface ClientOptions {
  /** e.g. http://127.0.0.1:3000 */
  baseUrl: string;
  apiKey: string;
  fetch?: typeof fetch;
}

const TERMINAL = new Set(['completed', 'partial', 'failed', 'cancelled']);


export function createClient(opts: ClientOptions) {
  const headers = { Authorization: `Bearer ${opts.apiKey}` };
  const fetchFn = opts.fetch ?? fetch;
  const api = hc<AppType>(opts.baseUrl, { headers, fetch: fetchFn });
  const batches = api.v1.batches;
  const getBatch = (id: string) => unwrap(batches[':id'].$get({ param: { id } }));

  return {
    /** The raw typed `hc` client, for routes without a helper. */
    api,
    jobTypes: () => unwrap(api.v1['job-types'].$get()),
    submitBatch: (body: CreateBatchBody) => unwrap(batches.$post({ json: body })),
    getBatch,
    listJobs: (id: string, query: { status?: string; limit?: number; cursor?: string } = {}) =>
      unwrap(
        batches[':id'].jobs.$get({
          param: { id },
          query: {
            ...(query.status ? { status: query.status as 'pending' } : {}),
            ...(query.limit ? { limit: String(query.limit) } : {}),
            ...(query.cursor ? { cursor: query.cursor } : {}),
          },
        }),
      ),
    clusters: (id: string, query: { limit?: number; cursor?: string } = {}) =>
      unwrap(
        batches[':id'].clusters.$get({
          param: { id },
          query: { ...(query.limit ? { limit: String(query.limit) } : {}), ...(query.cursor ? { cursor: query.cursor } : {}) },
        }),
      ),
    ...issue4Routes(api),

    /** Polls until the batch ends; `onProgress` sees every answer. Stops early when `signal` aborts. */
    async waitForBatch(
      id: string,
      o: { intervalMs?: number; signal?: AbortSignal; onProgress?: (b: Awaited<ReturnType<typeof getBatch>>) => void } = {},
    ) {
      for (;;) {
        const b = await getBatch(id);
        o.onProgress?.(b);
        if (TERMINAL.has(b.status)) return b;
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(resolve, o.intervalMs ?? 1_000);
          o.signal?.addEventListener('abort', () => {
            clearTimeout(timer);
            reject(o.signal?.reason instanceof Error ? o.signal.reason : new Error('aborted'));
          });
        });
      }
    },
  };
}

export type BatchworksClient = ReturnType<typeof createClient>;
export type Batch = Awaited<ReturnType<BatchworksClient['getBatch']>>;
