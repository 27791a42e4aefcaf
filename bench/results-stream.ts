/**
 * `npx tsx bench/results-stream.ts [jobs]`: streams the results of a finished batch of
 * `jobs` (default 1,000,000) as NDJSON and as CSV over HTTP, and prints rows, seconds
 * and the API process's peak RSS while streaming (the API runs in this process).
 */
import { ownRssSampler, startSystem } from './setup.js';

const jobs = Number(process.argv[2] ?? 1_000_000);
const say = (m: string) => process.stderr.write(`[results] ${m}\n`);
const sys = await startSystem(say);
try {
  const body = `${JSON.stringify({ input: { ms: 0 } })}\n`.repeat(jobs);
  const res = await fetch(`${sys.apiUrl}/v1/batches?type=sleep&concurrency=100`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${sys.key}`, 'Content-Type': 'application/x-ndjson' },
    body,
  });
  const { id } = (await res.json()) as { id: string };
  for (;;) {
    const b = (await (await fetch(`${sys.apiUrl}/v1/batches/${id}`, { headers: { Authorization: `Bearer ${sys.key}` } })).json()) as { status: string };
    if (b.status === 'completed') break;
    await new Promise((r) => setTimeout(r, 200));
  }
  for (const accept of ['application/x-ndjson', 'text/csv']) {
    global.gc?.();
    const memory = ownRssSampler(50);
    const started = performance.now();
    const r = await fetch(`${sys.apiUrl}/v1/batches/${id}/results`, { headers: { Authorization: `Bearer ${sys.key}`, Accept: accept } });
    let lines = 0;
    const decoder = new TextDecoder();
    for await (const chunk of r.body!) for (const ch of decoder.decode(chunk, { stream: true })) if (ch === '\n') lines++;
    const rss = memory.stop();
    console.log(
      JSON.stringify({
        workload: 'results',
        format: accept,
        jobs,
        lines,
        seconds: Number(((performance.now() - started) / 1000).toFixed(2)),
        ...rss,
      }),
    );
  }
} finally {
  await sys.stop();
}
