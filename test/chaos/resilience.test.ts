/**
 * Resilience: while a 5,000-job batch runs, break something, and check the batch still
 * ends completed with counters equal to its job rows and no attempt's effect applied
 * twice (the ledger job type). The worker, PostgreSQL and Temporal cases run in each
 * execution mode (one activity per job, chunks that record outcomes in bulk, one local
 * activity per job).
 * `npm run test:chaos`; not part of `npm test`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { getBatchById } from '../../db/batches.js';
import { countJobsByStatus } from '../../db/jobs.js';
import { builtInJobTypes, createRegistry } from '../../job-types/registry.js';
import { freePort, startDevServer, type DevServer } from '../../temporal/dev-server.js';
import { loadConfig } from '../../config.js';
import { createHarness, type Harness } from '../support/harness.js';
import { spawnWorker } from '../support/worker-process.js';
import { spawnApi, type ApiProcess } from './support/api-process.js';
import { createLedger, ledgerJobTypes, ledgerTypeName, type LedgerMode } from './support/ledger-job.js';
import { openEvents, type SseStream } from './support/sse.js';

const TOTAL = 5_000;
const WORKER_ENTRY = 'test/chaos/support/ledger-worker.ts';
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

/**
 * Per mode, a batch that runs long enough to be hit mid-flight: chunks run their jobs
 * far faster than one activity per job, so they get fewer lanes and longer jobs.
 */
const SHAPE: Record<LedgerMode, { concurrency: number; ms: number }> = {
  activity: { concurrency: 200, ms: 5 },
  chunk: { concurrency: 20, ms: 40 },
  local: { concurrency: 100, ms: 5 },
};

async function setUp(mode: LedgerMode = 'activity', temporalAddress?: string) {
  // The API side needs the job type only to validate inputs; the worker process runs it.
  const placeholder = createRegistry([...builtInJobTypes, ...ledgerJobTypes(undefined as never)]);
  const h = await createHarness({ worker: false, registry: placeholder, ...(temporalAddress ? { temporalAddress } : {}) });
  cleanups.push(() => h.close());
  await createLedger(h.sql);
  const t = await h.tenant();
  // A worker that ends on its own (not killed here) fails the test at once, with its last
  // output: otherwise the batch just stops, and the test waits out its limit saying only that.
  let crash!: (err: Error) => void;
  const crashed = new Promise<never>((_, reject) => (crash = reject));
  crashed.catch(() => {});
  const watch = <T>(work: Promise<T>) => Promise.race([work, crashed]);
  const startWorker = async () => {
    const w = spawnWorker(h, { LOG_LEVEL: 'info', WORKER_MAX_CONCURRENT_ACTIVITIES: '200' }, WORKER_ENTRY);
    void w.exited.then((code) => {
      if (code !== null) crash(new Error(`the worker exited with code ${code}, not killed by the test; its last output:\n${w.output().slice(-4_000)}`));
    });
    cleanups.push(async () => {
      w.child.kill('SIGKILL');
      await w.exited;
    });
    await w.ready;
    return w;
  };
  const submit = async () => {
    const { id, status } = await h.submit(t.key, {
      type: ledgerTypeName(mode),
      concurrency: SHAPE[mode].concurrency,
      items: Array.from({ length: TOTAL }, () => ({ input: { ms: SHAPE[mode].ms } })),
    });
    expect(status).toBe(202);
    return id;
  };
  const progress = (id: string, atLeast: number) =>
    watch(h.waitForBatch(t.key, id, { until: (b) => b.counters.succeeded + b.counters.failed >= atLeast }));
  const expectIntact = (id: string) => expectIntactBatch(h, t.key, id, watch);
  return { h, t, startWorker, submit, progress, expectIntact };
}

async function expectIntactBatch(h: Harness, key: string, id: string, watch: <T>(work: Promise<T>) => Promise<T>) {
  const done = await watch(h.waitForBatch(key, id));
  expect(done.status).toBe('completed');
  const row = (await getBatchById(h.sql, id))!;
  const counts = await countJobsByStatus(h.sql, id);
  expect(counts).toEqual({ pending: 0, running: 0, succeeded: TOTAL, failed: 0, cancelled: 0 });
  expect([row.totalJobs, row.succeededJobs, row.failedJobs, row.cancelledJobs]).toEqual([TOTAL, counts.succeeded, counts.failed, counts.cancelled]);
  const [ledger] = await h.sql<{ twice: number; missing: number; phantom: number; effects: number }[]>`
    select
      (select count(*)::int from chaos_ledger where executions > 1) as twice,
      (select count(*)::int from jobs j where j.batch_id = ${id} and not exists (
        select 1 from chaos_ledger l where l.job_id = j.id and l.attempt = j.attempts)) as missing,
      (select count(*)::int from chaos_ledger l join jobs j on j.id = l.job_id where l.attempt > j.attempts) as phantom,
      (select count(*)::int from chaos_ledger) as effects
  `;
  if (ledger!.twice + ledger!.missing + ledger!.phantom > 0) {
    // Say which jobs and attempts, so a failure in CI can be read without a rerun.
    const odd = await h.sql`
      select j.id, j.seq, j.attempts, j.error_type, j.error_message,
        (select json_agg(json_build_object('attempt', l.attempt, 'executions', l.executions) order by l.attempt)
         from chaos_ledger l where l.job_id = j.id) as ledger
      from jobs j
      where j.batch_id = ${id}
        and (not exists (select 1 from chaos_ledger l where l.job_id = j.id and l.attempt = j.attempts)
          or exists (select 1 from chaos_ledger l where l.job_id = j.id and (l.executions > 1 or l.attempt > j.attempts)))
      order by j.seq
      limit 10
    `;
    console.error('[chaos] jobs whose ledger does not match their attempts:', JSON.stringify(odd, null, 1));
  }
  // Every job's recorded attempt has its effect, no attempt ran twice, none ran unrecorded.
  expect(ledger).toMatchObject({ twice: 0, missing: 0, phantom: 0 });
  expect(ledger!.effects).toBeGreaterThanOrEqual(TOTAL);
  return ledger!;
}

describe.each(['activity', 'chunk', 'local'] as const)('a 5,000-job batch (%s mode) survives', (mode) => {
  it('kill -9 of the worker, and another worker taking over', async () => {
    const { h, startWorker, submit, progress, expectIntact } = await setUp(mode);
    const first = await startWorker();
    const id = await submit();
    await progress(id, 1_000);
    first.child.kill('SIGKILL');
    await first.exited;
    await startWorker();
    const ledger = await expectIntact(id);
    // Attempts cut short by the kill ran again as new, recorded attempts.
    expect(ledger.effects).toBeGreaterThanOrEqual(TOTAL);
    const [again] = await h.sql<{ jobs: number; lost: number }[]>`
      select count(*) filter (where attempts > 1)::int as jobs,
        count(*) filter (where error_type = 'AttemptLost')::int as lost
      from jobs where batch_id = ${id}
    `;
    console.log(`[chaos] ${mode} mode, worker killed: ${ledger.effects} effects for ${TOTAL} jobs; ${again!.jobs} jobs ran more than once (${again!.lost} after a lost chunk attempt)`);
  });

  it('every PostgreSQL backend terminated, three times', async () => {
    const { h, startWorker, submit, progress, expectIntact } = await setUp(mode);
    await startWorker();
    const id = await submit();
    for (const at of [800, 2_000, 3_200]) {
      await progress(id, at);
      const [row] = await h.sql<{ n: number }[]>`
        select count(*)::int as n
        from (
          select pg_terminate_backend(pid)
          from pg_stat_activity
          where datname = current_database()
            and pid <> pg_backend_pid()
        ) t
      `;
      expect(row!.n).toBeGreaterThan(0);
    }
    await expectIntact(id);
  });

  it('the Temporal server stopped and started again on its persistent database', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'batchworks-chaos-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const config = loadConfig();
    const port = await freePort();
    const server = (): Promise<DevServer> =>
      startDevServer({ cliPath: config.temporalCliPath, cacheDir: config.cacheDir, namespace: 'default', port, dbFilename: path.join(dir, 'temporal.db'), log: () => {} });
    let dev = await server();
    cleanups.push(() => dev.stop());
    const { startWorker, submit, progress, expectIntact } = await setUp(mode, dev.address);
    await startWorker();
    const id = await submit();
    await progress(id, 1_500);
    await dev.stop();
    dev = await server();
    await expectIntact(id);
  });

});

describe('a 5,000-job batch survives', () => {
  it('the API restarted while an event stream and new submissions are in flight', async () => {
    const { h, t, startWorker, submit, progress, expectIntact } = await setUp();
    await startWorker();
    const id = await submit();
    const port = await freePort();
    const apis: ApiProcess[] = [];
    const startApi = async () => {
      const api = spawnApi(h, port);
      apis.push(api);
      await api.ready;
      return api;
    };
    cleanups.push(async () => {
      for (const api of apis) api.child.kill('SIGKILL');
      await Promise.all(apis.map((a) => a.exited));
    });
    const first = await startApi();
    const eventsUrl = `${first.url}/v1/batches/${id}/events`;
    const stream1 = await openEvents(eventsUrl, t.key, 120_000);

    // Small batches, one after another, against whichever API process holds the port.
    type Outcome = { api: number; status?: number; id?: string; error?: string };
    const outcomes: Outcome[] = [];
    let api = 1;
    let stop = false;
    const body = JSON.stringify({ type: 'sleep', items: [{ input: { ms: 5 } }, { input: { ms: 5 } }, { input: { ms: 5 } }] });
    const submitting = (async () => {
      for (let i = 0; i < 3_000 && !stop; i++) {
        const outcome: Outcome = { api };
        try {
          const res = await fetch(`${first.url}/v1/batches`, {
            method: 'POST',
            headers: { Authorization: `Bearer ${t.key}`, 'Content-Type': 'application/json' },
            body,
            signal: AbortSignal.timeout(30_000),
          });
          outcome.status = res.status;
          outcome.id = ((await res.json()) as { id?: string }).id;
        } catch (err) {
          outcome.error = String(err);
        }
        outcomes.push(outcome);
        await delay(30);
      }
    })();
    const accepted = (n: number) => outcomes.filter((o) => o.api === n && o.status === 202).length;
    const waitFor = async (what: string, ok: () => boolean) => {
      for (let i = 0; !ok(); i++) {
        if (i > 1_200) throw new Error(`still waiting for ${what}`);
        await delay(100);
      }
    };

    await progress(id, 1_000);
    await waitFor('submissions to the first API', () => accepted(1) >= 3);
    first.child.kill('SIGTERM');
    // Graceful: it exits by itself, with its requests finished rather than cut.
    expect(await first.exited).toBe(0);
    expect(first.output()).not.toContain('closing their connections');
    const end1 = await stream1.done;
    expect(['clean', 'network-error']).toContain(end1.ended);

    await startApi();
    api = 2;
    // Clients reconnect; the new process sends the current state, then `end` at completion.
    let stream2: SseStream | undefined;
    for (let i = 0; !stream2; i++) {
      stream2 = await openEvents(eventsUrl, t.key, 120_000).catch((err: unknown) => {
        if (i >= 50) throw err;
        return undefined;
      });
      if (!stream2) await delay(200);
    }
    await waitFor('submissions to the second API', () => accepted(2) >= 3);
    stop = true;
    await submitting;

    expect(await stream2.done).toEqual({ ended: 'clean' });
    const last = stream2.events.at(-1);
    expect(last?.event).toBe('end');
    expect(JSON.parse(last!.data)).toMatchObject({ id, status: 'completed' });
    await expectIntact(id);

    // A 202 is a promise: the batch exists and runs to completion. Anything else was a
    // connection error or a 5xx, never a 4xx and never an answer without a batch behind it.
    const ok = outcomes.filter((o) => o.status === 202);
    for (const o of ok) {
      expect(o.id).toMatch(/^[0-9a-f-]{36}$/);
      expect((await h.waitForBatch(t.key, o.id!)).status).toBe('completed');
      expect(await getBatchById(h.sql, o.id!)).toMatchObject({ totalJobs: 3, succeededJobs: 3 });
    }
    for (const o of outcomes.filter((x) => x.status !== 202)) {
      expect(o.status === undefined ? o.error : o.status).toSatisfy((v: unknown) => typeof v === 'string' || (typeof v === 'number' && v >= 500));
    }
    expect(ok.length).toBeGreaterThanOrEqual(6);
  });
});
