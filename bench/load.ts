/**
 * `npm run load [-- --seconds 10 --connections 20]`: an autocannon load test of the API
 * over real HTTP (the bench system: dev server, fresh database, worker process):
 * status reads of one batch, then small submissions (one sleep job each). Prints and
 * writes bench/results/load.json with requests/s and latency percentiles; exits 1 on
 * any error or non-2xx answer. Not a test: it measures, and machines are noisy.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { startSystem } from './setup.js';

const { values: opts } = parseArgs({
  options: { seconds: { type: 'string', default: '10' }, connections: { type: 'string', default: '20' } },
});
const duration = Number(opts.seconds);
const connections = Number(opts.connections);
const say = (m: string) => process.stderr.write(`[load] ${m}\n`);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const sys = await startSystem(say);
let failed = false;
try {
  const auth = { Authorization: `Bearer ${sys.key}` };
  const first = await fetch(`${sys.apiUrl}/v1/batches`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'application/json' },
    body: JSON.stringify({ type: 'sleep', items: [{ input: { ms: 0 } }] }),
  });
  const { id } = (await first.json()) as { id: string };

  const scenarios = [
    { name: 'status reads', method: 'GET' as const, path: `/v1/batches/${id}`, body: undefined },
    {
      name: 'small submissions',
      method: 'POST' as const,
      path: '/v1/batches',
      body: JSON.stringify({ type: 'sleep', items: [{ input: { ms: 0 } }, { input: { ms: 0 } }] }),
    },
  ];
  const results = [];
  for (const s of scenarios) {
    say(`${s.name}: ${connections} connections for ${duration} s`);
    const r = await autocannon({
      url: `${sys.apiUrl}${s.path}`,
      method: s.method,
      headers: { ...auth, ...(s.body ? { 'Content-Type': 'application/json' } : {}) },
      ...(s.body ? { body: s.body } : {}),
      connections,
      duration,
    });
    const row = {
      scenario: s.name,
      requests: r.requests.total,
      requestsPerSecond: r.requests.average,
      latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max },
      errors: r.errors,
      timeouts: r.timeouts,
      non2xx: r.non2xx,
    };
    results.push(row);
    console.log(JSON.stringify(row));
    if (r.errors + r.timeouts + r.non2xx > 0) failed = true;
  }
  await mkdir(path.join(root, 'bench/results'), { recursive: true });
  await writeFile(
    path.join(root, 'bench/results/load.json'),
    `${JSON.stringify({ at: new Date().toISOString(), connections, durationSeconds: duration, results }, null, 2)}\n`,
  );
} finally {
  await sys.stop();
}
if (failed) {
  say('errors or non-2xx answers: failing');
  process.exit(1);
}
