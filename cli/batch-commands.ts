/** The commands that talk to the API through the typed client. */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { createClient, type Batch, type BatchworksClient } from '../client/index.js';
import { exitCodeOf, ExitCode, UsageError } from './exit-codes.js';
import { readItems } from './input-file.js';
import { renderProgress } from './progress.js';

export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
  /** Whether stderr is a terminal (then the progress line redraws in place). */
  tty: boolean;
  stdout: NodeJS.WritableStream;
}

export const connect = (url: string, apiKey: string | undefined): BatchworksClient => {
  if (!apiKey) throw new UsageError('set BATCHWORKS_API_KEY (or pass --key); create a key with `batchworks tenants create <name>`');
  return createClient({ baseUrl: url, apiKey });
};

const summaryOf = (b: Batch) =>
  `batch ${b.id} ${b.status}: ${b.counters.succeeded} succeeded, ${b.counters.failed} failed, ${b.counters.cancelled} cancelled of ${b.counters.total}` +
  (b.durationMs !== null ? ` in ${(b.durationMs / 1000).toFixed(1)} s` : '');

/** Follows a batch to its end with a live progress line; returns the outcome's exit code. */
export async function watch(client: BatchworksClient, id: string, io: Io, json: boolean, intervalMs = 500): Promise<number> {
  let last = '';
  const final = await client.waitForBatch(id, {
    intervalMs,
    onProgress: (b) => {
      const line = renderProgress(b, Date.now());
      if (io.tty) process.stderr.write(`\r${line}\x1b[K`);
      else if (line !== last) io.err(line);
      last = line;
    },
  });
  if (io.tty) process.stderr.write('\n');
  if (json) io.out(JSON.stringify(final));
  else io.err(summaryOf(final));
  return exitCodeOf(final.status);
}

export async function submit(
  client: BatchworksClient,
  io: Io,
  a: { file: string; type: string; watch: boolean; json: boolean; concurrency?: number; maxRetries?: number },
): Promise<number> {
  const types = await client.jobTypes();
  const type = types.items.find((t) => t.name === a.type);
  if (!type) throw new UsageError(`unknown job type '${a.type}'; the API knows: ${types.items.map((t) => t.name).join(', ')}`);
  const inputs = await readItems(a.file, type.inputSchema);
  if (inputs.length === 0) throw new UsageError(`${a.file} holds no items`);
  const batch = await client.submitBatch({
    type: a.type,
    items: inputs.map((input) => ({ input })),
    ...(a.concurrency !== undefined ? { concurrency: a.concurrency } : {}),
    ...(a.maxRetries !== undefined ? { maxRetries: a.maxRetries } : {}),
  });
  io.out(batch.id);
  io.err(`submitted batch ${batch.id}: ${batch.counters.total} ${a.type} job(s)`);
  return a.watch ? watch(client, batch.id, io, a.json) : ExitCode.completed;
}

export async function status(client: BatchworksClient, io: Io, a: { id: string; watch: boolean; json: boolean }): Promise<number> {
  if (a.watch) return watch(client, a.id, io, a.json);
  const b = await client.getBatch(a.id);
  io.out(a.json ? JSON.stringify(b) : `${summaryOf(b)}\n${renderProgress(b, Date.now())}`);
  return exitCodeOf(b.status);
}

export async function list(client: BatchworksClient, io: Io, a: { status?: string; type?: string; limit?: number; cursor?: string; json: boolean }): Promise<number> {
  const page = await client.listBatches(a);
  if (a.json) io.out(JSON.stringify(page));
  else {
    for (const b of page.items) {
      io.out([b.id, b.type, b.status, `${b.counters.succeeded + b.counters.failed + b.counters.cancelled}/${b.counters.total}`, b.createdAt].join('\t'));
    }
    if (page.nextCursor) io.err(`more: --cursor ${page.nextCursor}`);
  }
  return ExitCode.completed;
}

export async function cancel(client: BatchworksClient, io: Io, a: { id: string; json: boolean }): Promise<number> {
  const b = await client.cancelBatch(a.id);
  io.out(a.json ? JSON.stringify(b) : `batch ${b.id} ${b.status}`);
  return ExitCode.completed;
}

export async function retry(client: BatchworksClient, io: Io, a: { id: string; errorType?: string; watch: boolean; json: boolean }): Promise<number> {
  const b = await client.retryBatch(a.id, a.errorType ? { errorType: a.errorType } : {});
  io.err(`batch ${b.id} retrying (${b.status})`);
  return a.watch ? watch(client, b.id, io, a.json) : ExitCode.completed;
}

export async function results(client: BatchworksClient, io: Io, a: { id: string; format: 'ndjson' | 'csv' }): Promise<number> {
  const body = await client.results(a.id, a.format);
  await pipeline(Readable.fromWeb(body as NodeReadableStream<Uint8Array>), io.stdout, { end: false });
  return ExitCode.completed;
}

export async function clusters(client: BatchworksClient, io: Io, a: { id: string; json: boolean }): Promise<number> {
  const page = await client.clusters(a.id, { limit: 1000 });
  if (a.json) io.out(JSON.stringify(page));
  else {
    io.out(`method ${page.method}; ${JSON.stringify(page.summary)}`);
    for (const c of page.items) io.out(`cluster ${c.cluster}: ${c.size} documents, similarity ${c.meanSimilarity}: ${c.members.map((m) => m.id ?? `#${m.index}`).join(', ')}`);
  }
  return ExitCode.completed;
}

export async function jobTypes(client: BatchworksClient, io: Io, a: { json: boolean }): Promise<number> {
  const t = await client.jobTypes();
  if (a.json) io.out(JSON.stringify(t));
  else for (const x of t.items) io.out(`${x.name}\t${x.description}`);
  return ExitCode.completed;
}
