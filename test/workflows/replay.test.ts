/**
 * Workflow determinism: histories replay against this build's workflow code without a
 * nondeterminism error. Two sources: histories recorded by earlier builds
 * (histories/<build>/, recorded by scripts/record-histories.ts: chunked with retries,
 * per activity, a small batch, pause/resume/concurrency updates, a consolidation), so
 * a change that would break runs still open at a deploy fails here; and runs of this
 * build. When workflow code changes, record the new build's histories beside them.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import proto from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, sleepItems, type Harness, type TestTenant } from '../support/harness.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const historiesDir = path.join(here, 'histories');

let h: Harness;
let t: TestTenant;
beforeAll(async () => {
  h = await createHarness();
  t = await h.tenant();
});
afterAll(() => h?.close());

const replayOptions = () => ({ workflowBundle: { codePath: h.workflowBundlePath }, replayName: 'replay-test' });

describe('histories recorded by earlier builds replay on this one', async () => {
  const builds = await readdir(historiesDir);
  for (const build of builds) {
    const index = JSON.parse(await readFile(path.join(historiesDir, build, 'index.json'), 'utf8')) as { histories: Record<string, string> };
    it.each(Object.entries(index.histories))(`${build}: %s`, async (file, workflowId) => {
      // Binary, as the server sends them: the SDK's JSON reader (historyFromJSON) fails
      // here, as @temporalio/common and @temporalio/proto each get their own protobufjs.
      const history = proto.temporal.api.history.v1.History.decode(await readFile(path.join(historiesDir, build, file)));
      expect(history.events?.length).toBeGreaterThan(10);
      await Worker.runReplayHistory(replayOptions(), history, workflowId);
    });
  }
});

it("this build's own runs replay: chunked with retries and a patch, per activity, local, fan-out-free small batches", async () => {
  const items = (n: number, f: (i: number) => Record<string, unknown>) => sleepItems(Array.from({ length: n }, (_, i) => f(i)));
  const submitted = [
    // A chunk long enough that its failures' backoff has run out when it ends: retries without a timer.
    await h.submit(t.key, { type: 'sleep', mode: 'chunk', concurrency: 20, maxRetries: 2, backoff: { initialIntervalMs: 100 }, items: items(20, (i) => (i === 1 ? { ms: 300 } : { ms: 0, failTimes: i % 5 === 0 ? 1 : 0 })) }),
    await h.submit(t.key, { type: 'sleep', mode: 'chunk', concurrency: 4, maxRetries: 3, backoff: { initialIntervalMs: 50 }, items: items(40, (i) => ({ ms: 5, failTimes: i % 4 === 0 ? 2 : 0 })) }),
    await h.submit(t.key, { type: 'sleep', mode: 'activity', concurrency: 3, maxRetries: 2, backoff: { initialIntervalMs: 20 }, items: items(8, (i) => ({ ms: 5, failTimes: i % 4 === 0 ? 1 : 0 })) }),
    await h.submit(t.key, { type: 'sleep', maxRetries: 2, backoff: { initialIntervalMs: 10 }, items: items(3, (i) => ({ ms: 0, failTimes: i === 1 ? 1 : 0 })) }),
    // Local mode, jobs ending out of the order they started in (a replay resolves them in
    // the order of their markers): retried in the worker, and some failed for good, which
    // the run ends at its waves' ends.
    await h.submit(t.key, {
      type: 'sleep',
      mode: 'local',
      concurrency: 8,
      maxRetries: 1,
      backoff: { initialIntervalMs: 10 },
      items: items(120, (i) => ({ ms: (i * 7) % 13, failTimes: i % 6 === 0 ? 1 : 0, fatal: i % 25 === 3 })),
    }),
  ];
  for (const s of submitted) expect((await h.waitForBatch(t.key, s.id)).status).toBe(s.body.mode === 'local' ? 'partial' : 'completed');
  const ids = submitted.map((s) => `'${s.body.workflowId as string}'`).join(', ');
  const results = Worker.runReplayHistories(replayOptions(), h.client.workflow.list({ query: `WorkflowId IN (${ids})` }).intoHistories());
  const replayed: string[] = [];
  for await (const r of results) {
    expect(r.error, `${r.workflowId}: ${String(r.error)}`).toBeUndefined();
    replayed.push(r.workflowId);
  }
  expect(replayed.sort()).toEqual(submitted.map((s) => s.body.workflowId as string).sort());
});
