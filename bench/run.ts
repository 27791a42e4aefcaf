/**
 * `npm run bench [-- --only W1,W2 --modes chunk --w4 --scale 0.1 --repeat 3 --timeline]`: one JSON
 * object per workload run on stdout (W1, W2, W3, W4 with --w4, ingest (and ingest-million with --w4), latency, ends, floor),
 * and W3/W1 per mode (with --repeat N, W1–W3 run N times and the ratio is of the
 * medians). Progress goes to stderr. Not a test: CI runs none of this.
 */
import { parseArgs } from 'node:util';
import { insertApiKey, insertTenant } from '../db/tenants.js';
import type { ExecutionMode } from '../job-types/job-type.js';
import { countersMatchRows, historyFigures } from './batch-figures.js';
import { runFloor } from './floor.js';
import { runIngestMillion } from './ingest-million.js';
import { w3w1 } from './ratio.js';
import { runJobEnds } from './job-ends.js';
import { chunkTimeline } from './timeline.js';
import { cpuSpent, rssByTenth, rssMb, startSystem, type System } from './setup.js';

const { values: opts } = parseArgs({
  options: {
    only: { type: 'string' },
    modes: { type: 'string', default: 'chunk,activity,local' },
    w4: { type: 'boolean', default: false },
    scale: { type: 'string', default: '1' },
    repeat: { type: 'string', default: '1' },
    timeline: { type: 'boolean', default: false },
  },
});
const scale = Number(opts.scale);
const repeat = Math.max(1, Math.floor(Number(opts.repeat)) || 1);
const modes = opts.modes!.split(',') as ExecutionMode[];
const wanted = (name: string) => !opts.only || opts.only.split(',').includes(name);
/**
 * The million-job workloads run when --only names them, or with --w4 beside the workload
 * they scale up: W4 beside W1, ingest-million beside ingest (`--only ingest --w4` runs no W4).
 */
const named = (name: string) => Boolean(opts.only?.split(',').includes(name));
const say = (m: string) => process.stderr.write(`[bench] ${m}\n`);
const n = (jobs: number) => Math.max(1, Math.round(jobs * scale));

interface Workload {
  name: string;
  jobs: number;
  mode: ExecutionMode;
  query: string;
  line: (i: number) => string;
  /** Another tenant submits a 10-job batch while this one runs: how long it takes, and how far this one got. */
  neighbour?: boolean;
}

const TERMINAL = new Set(['completed', 'partial', 'failed', 'cancelled']);

async function submit(sys: System, w: Workload): Promise<{ id: string; uploadSeconds: number }> {
  const body = Array.from({ length: w.jobs }, (_, i) => w.line(i)).join('\n');
  const started = performance.now();
  const res = await fetch(`${sys.apiUrl}/v1/batches?${w.query}&mode=${w.mode}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${sys.key}`, 'Content-Type': 'application/x-ndjson' },
    body,
  });
  const uploadSeconds = (performance.now() - started) / 1000;
  if (res.status !== 202) throw new Error(`submit ${w.name}: ${res.status} ${await res.text()}`);
  return { id: ((await res.json()) as { id: string }).id, uploadSeconds };
}

type BatchView = { status: string; counters: { total: number; succeeded: number; failed: number } };

async function waitTerminal(sys: System, id: string, pollMs: number, onTick?: (b: BatchView) => Promise<void>) {
  for (;;) {
    const res = await fetch(`${sys.apiUrl}/v1/batches/${id}`, { headers: { Authorization: `Bearer ${sys.key}` } });
    const b = (await res.json()) as BatchView;
    if (TERMINAL.has(b.status)) return b;
    await onTick?.(b);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

async function run(sys: System, w: Workload) {
  say(`${w.name} ${w.mode}: ${w.jobs} jobs`);
  const { id } = await submit(sys, w);
  const submittedAt = Date.now();
  let peak = await rssMb(sys.workerPid());
  const cpuBefore = await sys.cpu();
  const started = performance.now();
  let last = 0;
  const neighbour = w.neighbour ? runNeighbour(sys, id) : undefined;
  const memory = rssByTenth();
  const final = await waitTerminal(sys, id, 50, async (b) => {
    const mb = await rssMb(sys.workerPid());
    peak = Math.max(peak, mb);
    memory.note(b.counters.succeeded + b.counters.failed, b.counters.total, mb);
    const now = performance.now();
    if (now - last > 5_000) {
      last = now;
      const b = (await (await fetch(`${sys.apiUrl}/v1/batches/${id}`, { headers: { Authorization: `Bearer ${sys.key}` } })).json()) as {
        progress: { percent: number };
      };
      say(`  ${w.name} ${w.mode}: ${b.progress.percent}% after ${((now - started) / 1000).toFixed(0)} s`);
    }
  });
  const seconds = (performance.now() - started) / 1000;
  const cpuSeconds = cpuSpent(cpuBefore, await sys.cpu());
  const result = {
    workload: w.name,
    mode: w.mode,
    jobs: w.jobs,
    status: final.status,
    seconds: Number(seconds.toFixed(2)),
    jobsPerSecond: Math.round(w.jobs / seconds),
    workerPeakRssMb: peak,
    workerRssMbByTenth: memory.tenths(),
    cpuSeconds,
    ...(await historyFigures(sys, id, w.jobs).then((h) => ({
      largestRunHistoryEvents: h.largest,
      historyEventsPerJob: h.perJob,
      runs: h.runs,
    }))),
    countersMatchRows: await countersMatchRows(sys, id),
    ...(neighbour ? { neighbour: await neighbour } : {}),
  };
  console.log(JSON.stringify(result));
  if (opts.timeline && w.mode === 'chunk') await chunkTimeline(sys, id, submittedAt, say);
  return result;
}

/**
 * Fair sharing under load: two seconds into the big batch, a second tenant submits 10
 * jobs; reports its submit-to-terminal seconds and the big batch's progress by then.
 */
async function runNeighbour(sys: System, bigId: string) {
  const tenant = await insertTenant(sys.sql, `neighbour-${Date.now()}`);
  const { key } = await insertApiKey(sys.sql, tenant.id);
  await new Promise((r) => setTimeout(r, 2_000));
  const started = performance.now();
  const res = await fetch(`${sys.apiUrl}/v1/batches`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ type: 'sleep', items: Array.from({ length: 10 }, () => ({ input: { ms: 0 } })) }),
  });
  const { id } = (await res.json()) as { id: string };
  for (;;) {
    const b = (await (await fetch(`${sys.apiUrl}/v1/batches/${id}`, { headers: { Authorization: `Bearer ${key}` } })).json()) as { status: string };
    if (TERMINAL.has(b.status)) {
      const seconds = (performance.now() - started) / 1000;
      const big = (await (await fetch(`${sys.apiUrl}/v1/batches/${bigId}`, { headers: { Authorization: `Bearer ${sys.key}` } })).json()) as {
        status: string;
        progress: { percent: number };
      };
      return { smallBatchStatus: b.status, smallBatchSeconds: Number(seconds.toFixed(2)), bigBatchStatusThen: big.status, bigBatchPercentThen: big.progress.percent };
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

/**
 * Each workload gets a system of its own (a new dev server, database, worker and API),
 * warmed up with a 10-job batch: no workload pays for the rows and histories an earlier
 * one left behind.
 */
async function fresh<T>(fn: (sys: System) => Promise<T>): Promise<T> {
  const sys = await startSystem(say);
  try {
    // Warm-up: the worker loads its bundle and every code path once.
    await waitTerminal(sys, (await submit(sys, { name: 'warmup', jobs: 10, mode: 'chunk', query: 'type=sleep', line: () => '{"input":{"ms":0}}' })).id, 20);
    return await fn(sys);
  } finally {
    await sys.stop();
  }
}

/** W3's backoff (from 100 ms, doubling): a job failing twice waits 100 + 200 ms in all. */
const W3_BACKOFF_CHAIN_MS = 100 + 200;
const workloads: Record<'W1' | 'W2' | 'W3', (mode: ExecutionMode) => Workload> = {
  W1: (mode) => ({ name: 'W1', jobs: n(100_000), mode, query: 'type=sleep&concurrency=100', line: () => '{"input":{"ms":0}}' }),
  W2: (mode) => ({ name: 'W2', jobs: n(10_000), mode, query: 'type=sleep&concurrency=50', line: () => '{"input":{"ms":50}}' }),
  W3: (mode) => ({
    name: 'W3',
    jobs: n(100_000),
    mode,
    query: 'type=sleep&concurrency=100&maxRetries=3&backoffInitialMs=100',
    line: (i) => (i % 10 === 0 ? '{"input":{"ms":0,"failTimes":2}}' : '{"input":{"ms":0}}'),
  }),
};
for (const mode of modes) {
  const ratio = w3w1(mode, repeat, W3_BACKOFF_CHAIN_MS);
  for (let r = 0; r < repeat; r++) {
    // With --repeat, every other round runs W3 first: this machine's speed drifts over
    // minutes, and a fixed order would lean the ratio whichever way it drifts.
    const order = r % 2 === 0 ? (['W1', 'W2', 'W3'] as const) : (['W3', 'W2', 'W1'] as const);
    for (const name of order) {
      if (!wanted(name)) continue;
      ratio.add(name, await fresh((sys) => run(sys, workloads[name](mode))));
    }
  }
  const line = ratio.line();
  if (line) console.log(JSON.stringify(line));
}
if ((opts.w4 && wanted('W1')) || named('W4')) {
  await fresh((sys) =>
    run(sys, { name: 'W4', jobs: n(1_000_000), mode: 'chunk', query: 'type=sleep&concurrency=100', line: () => '{"input":{"ms":0}}', neighbour: true }),
  );
}
if (wanted('ingest')) {
  await fresh(async (sys) => {
    // One NDJSON upload first (the parse and COPY paths warm, as in a running API), then
    // three measured ones, each after the previous batch has run: the median and all three.
    const upload = async (jobs: number) => {
      const w: Workload = { name: 'ingest', jobs, mode: 'chunk', query: 'type=sleep&concurrency=100', line: () => '{"input":{"ms":0}}' };
      const { id, uploadSeconds } = await submit(sys, w);
      await waitTerminal(sys, id, 100);
      return uploadSeconds;
    };
    const jobs = n(100_000);
    await upload(Math.max(1, Math.round(jobs / 10)));
    const runs: number[] = [];
    for (let i = 0; i < 3; i++) runs.push(await upload(jobs));
    const median = [...runs].sort((a, b) => a - b)[1]!;
    console.log(
      JSON.stringify({
        workload: 'ingest',
        items: jobs,
        seconds: Number(median.toFixed(2)),
        itemsPerSecond: Math.round(jobs / median),
        runsItemsPerSecond: runs.map((s) => Math.round(jobs / s)),
      }),
    );
  });
}
if ((opts.w4 && wanted('ingest')) || named('ingest-million')) {
  // A million-item upload that fails at its last line, and one that succeeds (bench/ingest-million.ts).
  await fresh(async (sys) => {
    for (const r of await runIngestMillion(sys, n(1_000_000))) console.log(JSON.stringify(r));
  });
}
if (wanted('ends')) {
  await fresh(async (sys) => {
    say(`ends: ${n(5_000)} per-activity job ends against PostgreSQL alone, 100 at once, one statement each, then grouped as the worker writes them`);
    console.log(JSON.stringify(await runJobEnds(sys.sql, sys.tenantId, n(5_000), false)));
    console.log(JSON.stringify(await runJobEnds(sys.sql, sys.tenantId, n(5_000), true)));
  });
}
if (wanted('floor')) {
  await fresh(async (sys) => {
    // W1's and W3's size: the dev server slows as its store grows, retries most (W3).
    say(`floor: ${n(100_000)} no-op activities, W1's and W3's shapes, without Batchworks`);
    const all = (await runFloor(sys.client, sys.temporalAddress, n(100_000))) as { jobsPerSecond: number }[];
    const [w1, w3] = all;
    for (const r of all) console.log(JSON.stringify(r));
    console.log(JSON.stringify({ workload: 'floor W3/W1', mode: 'activity', ratio: Number((w3!.jobsPerSecond / w1!.jobsPerSecond).toFixed(2)) }));
  });
}
if (wanted('latency')) {
  for (const mode of modes) {
    await fresh(async (sys) => {
      const samples: number[] = [];
      for (let i = 0; i < n(200); i++) {
        const started = performance.now();
        const res = await fetch(`${sys.apiUrl}/v1/batches`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${sys.key}`, 'Content-Type': 'application/json' },
          body: JSON.stringify({ type: 'sleep', mode, items: [{ input: { ms: 0 } }] }),
        });
        const { id } = (await res.json()) as { id: string };
        await waitTerminal(sys, id, 2);
        samples.push(performance.now() - started);
      }
      samples.sort((a, b) => a - b);
      console.log(
        JSON.stringify({ workload: 'latency', mode, batches: samples.length, p50Ms: Math.round(percentile(samples, 50)), p99Ms: Math.round(percentile(samples, 99)) }),
      );
    });
  }
}
