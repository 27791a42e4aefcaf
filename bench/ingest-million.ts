/**
 * Issue 3's bulk-ingest promise at full size: a 1,000,000-item NDJSON upload succeeds
 * whole, or fails whole with an error naming its first bad line, in constant memory.
 *
 * The body is streamed from a generator (never held whole by this process, which also
 * runs the API), each line padded with JSON whitespace to `lineBytes` so the upload is
 * large next to the process's own memory: an API that buffered the body would show it
 * in `rssPeakMb`. Three uploads, each with the process's RSS before and at its highest
 * (sampled every 20 ms) and, when run with `NODE_OPTIONS=--expose-gc`, the JavaScript
 * heap in use after a full collection before and after (what the upload kept):
 * - `small`: a tenth of the items, for the memory an upload costs whatever its size;
 * - `lastLineBad`: every item, the last line not JSON: expects 400 naming that line,
 *   and no batch or job row added;
 * - `whole`: every item, all good: expects 202 and every job row stored.
 */
import { ownRssSampler, type System } from './setup.js';

const GOOD = '{"input":{"ms":0}}';

/** An NDJSON body of `items` lines of `lineBytes` each, the last one `last`, streamed in pages of 1,000 lines. */
function body(items: number, lineBytes: number, last = GOOD): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const pad = (line: string) => line + ' '.repeat(Math.max(0, lineBytes - line.length - 1)) + '\n';
  const page = encoder.encode(pad(GOOD).repeat(1_000));
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      const left = items - sent;
      if (left === 0) return controller.close();
      if (left > 1_000) {
        controller.enqueue(page);
        sent += 1_000;
        return;
      }
      controller.enqueue(encoder.encode(pad(GOOD).repeat(left - 1) + pad(last)));
      sent = items;
    },
  });
}

async function rows(sys: System) {
  const [r] = await sys.sql<{ batches: number; jobs: number }[]>`
    select (select count(*)::int from batches) as batches, (select count(*)::int from jobs) as jobs
  `;
  return r!;
}

/** The heap in use after a full collection, in MB; undefined without --expose-gc. */
function heapAfterGc(): number | undefined {
  if (!global.gc) return undefined;
  global.gc();
  return Math.round(process.memoryUsage().heapUsed / 2 ** 20);
}

async function upload(sys: System, items: number, lineBytes: number, last?: string) {
  const heapBefore = heapAfterGc();
  const memory = ownRssSampler(20);
  const rowsBefore = await rows(sys);
  const started = performance.now();
  try {
    const res = await fetch(`${sys.apiUrl}/v1/batches?type=sleep&concurrency=100`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${sys.key}`, 'Content-Type': 'application/x-ndjson' },
      body: body(items, lineBytes, last),
      duplex: 'half',
    } as RequestInit);
    const answer = (await res.json()) as { id?: string; detail?: string; errors?: { path: string }[] };
    const seconds = (performance.now() - started) / 1000;
    const after = await rows(sys);
    const rss = memory.stop();
    // A stored batch runs; cancel it so it does not weigh on the next upload.
    if (answer.id) await fetch(`${sys.apiUrl}/v1/batches/${answer.id}/cancel`, { method: 'POST', headers: { Authorization: `Bearer ${sys.key}` } });
    return {
      items,
      bodyMb: Math.round((items * lineBytes) / 2 ** 20),
      status: res.status,
      seconds: Number(seconds.toFixed(2)),
      itemsPerSecond: Math.round(items / seconds),
      ...(answer.errors ? { errorPath: answer.errors[0]?.path, detail: answer.detail } : {}),
      batchesAdded: after.batches - rowsBefore.batches,
      jobsAdded: after.jobs - rowsBefore.jobs,
      ...rss,
      ...(heapBefore !== undefined ? { heapBeforeMb: heapBefore, heapAfterMb: heapAfterGc() } : {}),
    };
  } finally {
    memory.stop();
  }
}

export async function runIngestMillion(sys: System, items: number, lineBytes = 256) {
  const small = await upload(sys, Math.max(1, Math.round(items / 10)), lineBytes);
  const lastLineBad = await upload(sys, items, lineBytes, '{"input":{"ms":0}');
  const whole = await upload(sys, items, lineBytes);
  return [
    { workload: 'ingest-million', upload: 'small', ...small },
    { workload: 'ingest-million', upload: 'lastLineBad', ...lastLineBad },
    { workload: 'ingest-million', upload: 'whole', ...whole },
  ];
}
