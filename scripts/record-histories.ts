/**
 * `npx tsx scripts/record-histories.ts [dir]`: records a run of each workflow shape
 * with this checkout's code (chunked with retries, per activity, local with retries, a small batch, pause /
 * concurrency / resume updates, a chunked batch fanned out over ranges, a consolidation)
 * on a throwaway system (the bench's), and writes their histories, binary as the server
 * sends them, with an index of their workflow ids. Default dir:
 * test/workflows/histories/<this commit>. The replay test (test/workflows/replay.test.ts)
 * replays every recorded build on the current code: record the build before a change to
 * workflow code, so the change must keep them.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import proto from '@temporalio/proto';
import { startSystem } from '../bench/setup.js';

const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD']).toString().trim();
const out = process.argv[2] ?? path.join('test', 'workflows', 'histories', commit);
const say = (m: string) => process.stderr.write(`[record] ${m}\n`);

const sys = await startSystem(say);
const auth = { Authorization: `Bearer ${sys.key}` };
async function call(method: string, route: string, body?: unknown) {
  const res = await fetch(`${sys.apiUrl}${route}`, {
    method,
    headers: body === undefined ? auth : { ...auth, 'Content-Type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await res.json()) as Record<string, unknown> & { id: string; workflowId: string; status: string; counters: { succeeded: number } };
  if (res.status >= 300) throw new Error(`${method} ${route}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}
async function until(route: string, ok: (b: Awaited<ReturnType<typeof call>>) => boolean) {
  for (;;) {
    const b = await call('GET', route);
    if (ok(b)) return b;
    await new Promise((r) => setTimeout(r, 50));
  }
}
/** A batch of `n` copies of one NDJSON line. */
async function upload(query: string, n: number, line: string) {
  const res = await fetch(`${sys.apiUrl}/v1/batches?${query}`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'application/x-ndjson' },
    body: `${line}\n`.repeat(n),
  });
  if (res.status !== 202) throw new Error(`POST /v1/batches?${query}: ${res.status} ${await res.text()}`);
  return (await res.json()) as Awaited<ReturnType<typeof call>>;
}
const ended = (b: { status: string }) => ['completed', 'partial', 'failed', 'cancelled'].includes(b.status);
const items = (n: number, input: (i: number) => object) => Array.from({ length: n }, (_, i) => ({ input: input(i) }));

try {
  const batches = {
    'chunk-retries': await call('POST', '/v1/batches', {
      type: 'sleep',
      mode: 'chunk',
      concurrency: 4,
      maxRetries: 3,
      backoff: { initialIntervalMs: 50 },
      items: items(40, (i) => ({ ms: 5, failTimes: i % 4 === 0 ? 2 : 0 })),
    }),
    'activity-retries': await call('POST', '/v1/batches', {
      type: 'sleep',
      mode: 'activity',
      concurrency: 3,
      maxRetries: 2,
      backoff: { initialIntervalMs: 20 },
      items: items(8, (i) => ({ ms: 5, failTimes: i % 4 === 0 ? 1 : 0 })),
    }),
    // Retries on the way and jobs that end failed after their last attempt.
    'local-retries': await call('POST', '/v1/batches', {
      type: 'sleep',
      mode: 'local',
      concurrency: 4,
      maxRetries: 2,
      backoff: { initialIntervalMs: 30 },
      items: items(40, (i) => ({ ms: 5, failTimes: i % 10 === 5 ? 3 : i % 4 === 0 ? 2 : 0 })),
    }),
    'small-chunk': await call('POST', '/v1/batches', { type: 'sleep', maxRetries: 2, backoff: { initialIntervalMs: 10 }, items: items(3, (i) => ({ ms: 0, failTimes: i === 1 ? 1 : 0 })) }),
    'chunk-paused-resumed': await call('POST', '/v1/batches', { type: 'sleep', mode: 'chunk', concurrency: 2, items: items(100, () => ({ ms: 30 })) }),
    // One past the smallest range size (50,000), so it fans out on every build that cut ranges that small.
    'chunk-fanned-out': await upload('type=sleep&mode=chunk&concurrency=50', 50_001, '{"input":{"ms":0}}'),
  };
  const paused = batches['chunk-paused-resumed'].id;
  await until(`/v1/batches/${paused}`, (b) => b.counters.succeeded >= 2);
  await call('POST', `/v1/batches/${paused}/pause`);
  await call('PATCH', `/v1/batches/${paused}`, { concurrency: 3 });
  await call('POST', `/v1/batches/${paused}/resume`);
  for (const b of Object.values(batches)) await until(`/v1/batches/${b.id}`, ended);
  const consolidation = await call('POST', '/v1/consolidations', { scope: { batchIds: [batches['chunk-retries'].id] } });
  await until(`/v1/consolidations/${consolidation.id}`, ended);

  await mkdir(out, { recursive: true });
  const runs = { ...Object.fromEntries(Object.entries(batches).map(([name, b]) => [name, b.workflowId])), consolidation: consolidation.workflowId };
  const histories: Record<string, string> = {};
  for (const [name, workflowId] of Object.entries(runs)) {
    const history = await sys.client.workflow.getHandle(workflowId).fetchHistory();
    await writeFile(path.join(out, `${name}.binpb`), proto.temporal.api.history.v1.History.encode(history).finish());
    histories[`${name}.binpb`] = workflowId;
    say(`${name}: ${history.events?.length} events`);
  }
  await writeFile(path.join(out, 'index.json'), `${JSON.stringify({ recordedBy: commit, histories }, null, 2)}\n`);
  say(`wrote ${out}`);
} finally {
  await sys.stop();
}
