import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimConsolidation } from '../../db/consolidations.js';
import { consolidationWorkflowId } from '../../lib/names.js';
import { startConsolidationWorkflow } from '../../temporal/consolidation-client.js';
import {
  getConsolidation,
  listConsolidations,
  scheduledActivities,
  seedFinishedBatch,
  waitForConsolidation,
  type ConsolidationBody,
} from '../support/consolidation.js';
import { createHarness, sleepItems, type Harness } from '../support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(() => h?.close());

const DAY1 = new Date('2026-01-15T10:00:00Z');
const DAY2 = new Date('2026-01-16T23:30:00Z');

async function startManual(key: string, scope?: unknown): Promise<{ status: number; body: ConsolidationBody }> {
  const res = await h.request('POST', '/v1/consolidations', { key, json: scope === undefined ? {} : { scope } });
  return { status: res.status, body: (await res.json()) as ConsolidationBody };
}

interface StatsItem {
  jobType: string;
  day: string;
  jobs: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  retries: number;
  p50Ms: number | null;
  p95Ms: number | null;
}
async function stats(key: string, query = ''): Promise<StatsItem[]> {
  const res = await h.request('GET', `/v1/stats${query}`, { key });
  expect(res.status).toBe(200);
  return ((await res.json()) as { items: StatsItem[] }).items;
}

describe('manual consolidation', () => {
  it('runs every phase and rolls up exact stats for known batches; a second run collects nothing new', async () => {
    const t = await h.tenant();
    await seedFinishedBatch(h, t.id, {
      completedAt: DAY1,
      status: 'partial',
      jobs: [
        { status: 'succeeded', attempts: 1, durationMs: 100 },
        { status: 'succeeded', attempts: 2, durationMs: 200 },
        { status: 'failed', attempts: 3, durationMs: 300 },
        { status: 'succeeded', attempts: 1, durationMs: 400 },
      ],
    });
    await seedFinishedBatch(h, t.id, {
      completedAt: DAY1,
      status: 'cancelled',
      jobs: [
        { status: 'succeeded', attempts: 1, durationMs: 500 },
        { status: 'cancelled', attempts: 0, durationMs: null },
      ],
    });
    await seedFinishedBatch(h, t.id, {
      jobType: 'report.render',
      completedAt: DAY2,
      jobs: [{ status: 'succeeded', attempts: 1, durationMs: 1_000 }],
    });
    // Still running: not finished, so not in scope.
    const running = await seedFinishedBatch(h, t.id, { completedAt: DAY2, status: 'running', jobs: [{ status: 'succeeded', attempts: 1, durationMs: 1 }] });

    const { status, body } = await startManual(t.key);
    expect(status).toBe(202);
    expect(body).toMatchObject({ status: 'pending', triggerType: 'manual', retryCount: 0, maxRetries: 3, phasesCompleted: [] });
    const done = await waitForConsolidation(h, t.key, body.id);
    expect(done).toMatchObject({
      status: 'completed',
      phasesCompleted: ['collect', 'stats', 'cluster', 'retention'],
      retryCount: 0,
      errorMessage: null,
      workflowId: consolidationWorkflowId(t.id),
    });
    expect(done.triggeredBy).toMatch(/^api-key:/);
    expect(done.startedAt).not.toBeNull();
    expect(done.completedAt).not.toBeNull();
    expect(done.durationSeconds).toBeGreaterThanOrEqual(0);
    expect(done.metrics).toEqual({
      collect: { batches: 3, jobs: 7 },
      stats: { rows: 2, jobs: 7 },
      cluster: { documents: 0, clusters: 0, duplicates: 0, truncated: false },
      retention: { retentionDays: null, batchesDeleted: 0, jobsDeleted: 0 },
    });

    // p50/p95 over the 5 jobs that ran on DAY1: 100..500 ms (the cancelled one never ran).
    expect(await stats(t.key)).toEqual([
      { jobType: 'report.render', day: '2026-01-16', jobs: 1, succeeded: 1, failed: 0, cancelled: 0, retries: 0, p50Ms: 1000, p95Ms: 1000 },
      { jobType: 'sleep', day: '2026-01-15', jobs: 6, succeeded: 4, failed: 1, cancelled: 1, retries: 3, p50Ms: 300, p95Ms: 480 },
    ]);
    expect(await stats(t.key, '?jobType=sleep&from=2026-01-16')).toEqual([]);
    const [marks] = await h.sql<{ mine: number; unmarked: number }[]>`
      select count(*) filter (where consolidation_id = ${body.id})::int as mine,
        count(*) filter (where consolidation_id is null)::int as unmarked
      from batches
      where tenant_id = ${t.id}
    `;
    expect(marks).toEqual({ mine: 3, unmarked: 1 });
    expect((await h.sql`select consolidation_id from batches where id = ${running}`)[0]!.consolidationId).toBeNull();

    const again = await startManual(t.key);
    expect(again.status).toBe(202);
    expect(again.body.id).not.toBe(body.id);
    const second = await waitForConsolidation(h, t.key, again.body.id);
    expect(second.status).toBe('completed');
    expect(second.metrics.collect).toEqual({ batches: 0, jobs: 0 });
    expect((await stats(t.key)).map((s) => s.jobs)).toEqual([1, 6]);
  });

  it('consolidates real batches run by the batch workflow, within the requested scope', async () => {
    const t = await h.tenant();
    const a = await h.submit(t.key, { type: 'sleep', maxRetries: 2, backoff: { initialIntervalMs: 10 }, items: sleepItems([{ ms: 5 }, { ms: 5, failTimes: 1 }, { ms: 0, fatal: true }]) });
    const b = await h.submit(t.key, { type: 'sleep', items: sleepItems([{ ms: 1 }]) });
    await h.waitForBatch(t.key, a.id);
    await h.waitForBatch(t.key, b.id);
    const { body } = await startManual(t.key, { batchIds: [a.id] });
    const done = await waitForConsolidation(h, t.key, body.id);
    expect(done.status).toBe('completed');
    expect(done.scope).toEqual({ batchIds: [a.id] });
    expect(done.metrics.collect).toEqual({ batches: 1, jobs: 3 });
    const [row] = await stats(t.key);
    expect(row).toMatchObject({ jobType: 'sleep', jobs: 3, succeeded: 2, failed: 1, cancelled: 0, retries: 1 });
    expect(row!.p50Ms).toBeGreaterThanOrEqual(0);
    const unmarked = await h.sql`select id from batches where tenant_id = ${t.id} and consolidation_id is null`;
    expect(unmarked.map((r) => r.id)).toEqual([b.id]);
  });

  it('rejects an invalid scope with 400 and writes nothing', async () => {
    const t = await h.tenant();
    const res = await h.request('POST', '/v1/consolidations', { key: t.key, json: { scope: { batchIds: ['x'], extra: 1 } } });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    const p = (await res.json()) as { errors: { path: string }[] };
    expect(p.errors.map((e) => e.path)).toContain('body.scope.batchIds.0');
    expect((await h.sql`select id from consolidations where tenant_id = ${t.id}`).length).toBe(0);
  });
});

describe('cluster phase', () => {
  it('groups near-duplicate document.analyze results of the collected batches', async () => {
    const t = await h.tenant();
    const batchId = await seedFinishedBatch(h, t.id, {
      jobType: 'document.analyze',
      completedAt: DAY1,
      jobs: Array.from({ length: 4 }, () => ({ status: 'succeeded' as const, attempts: 1, durationMs: 5 })),
    });
    const sig = Array.from({ length: 16 }, (_, i) => i);
    const outputs = [{ minhash: sig }, { minhash: [...sig.slice(0, 15), 999] }, { minhash: sig.map((x) => x + 100) }, { score: 1 }];
    for (const [seq, output] of outputs.entries()) {
      await h.sql`update jobs set output = ${h.sql.json(output)} where batch_id = ${batchId} and seq = ${seq}`;
    }
    const { body } = await startManual(t.key);
    const done = await waitForConsolidation(h, t.key, body.id);
    expect(done.metrics.cluster).toEqual({ documents: 3, clusters: 1, duplicates: 1, truncated: false });
    const clusters = await h.sql<{ jobIds: string[] }[]>`select job_ids from document_clusters where consolidation_id = ${body.id}`;
    const ids = await h.sql<{ id: string }[]>`select id from jobs where batch_id = ${batchId} and seq in (0, 1) order by id`;
    expect(clusters.map((c) => [...c.jobIds].sort())).toEqual([ids.map((r) => r.id)]);
  });
});

describe('phase retries', () => {
  it('retries a phase that failed once and resumes at it: earlier phases run once, effects are not repeated', async () => {
    const t = await h.tenant();
    await seedFinishedBatch(h, t.id, {
      completedAt: DAY1,
      jobs: [
        { status: 'succeeded', attempts: 1, durationMs: 10 },
        { status: 'succeeded', attempts: 1, durationMs: 30 },
      ],
    });
    // The first `cluster` attempt fails after collect and stats have committed. The
    // sequence survives the failed transaction's rollback, so only the first fails.
    await h.sql`create sequence cluster_failures`;
    await h.sql.unsafe(`
      create function fail_first_cluster() returns trigger language plpgsql as $$
      begin
        if nextval('cluster_failures') = 1 then
          raise exception 'injected cluster failure';
        end if;
        return new;
      end $$;
      create trigger fail_first_cluster before update on consolidations for each row
        when (new.phases_completed @> array['cluster'] and not old.phases_completed @> array['cluster'])
        execute function fail_first_cluster();
    `);
    try {
      const { body } = await startManual(t.key);
      const done = await waitForConsolidation(h, t.key, body.id);
      expect(done).toMatchObject({
        status: 'completed',
        retryCount: 1,
        phasesCompleted: ['collect', 'stats', 'cluster', 'retention'],
      });
      expect(done.errorMessage).toContain('phase cluster failed: injected cluster failure');
      expect(await scheduledActivities(h, consolidationWorkflowId(t.id))).toMatchObject({
        beginConsolidation: 1,
        consolidationCollect: 1,
        consolidationStats: 1,
        consolidationCluster: 2,
        consolidationRetention: 1,
        recordConsolidationFailure: 1,
      });
      expect(await stats(t.key)).toEqual([
        { jobType: 'sleep', day: '2026-01-15', jobs: 2, succeeded: 2, failed: 0, cancelled: 0, retries: 0, p50Ms: 20, p95Ms: 29 },
      ]);
      expect(done.metrics.collect).toEqual({ batches: 1, jobs: 2 });
    } finally {
      await h.sql.unsafe(`drop trigger fail_first_cluster on consolidations; drop function fail_first_cluster(); drop sequence cluster_failures;`);
    }
  });

  it('ends failed after max_retries, keeps the error, and gives its batches back when stats never ran', async () => {
    const t = await h.tenant();
    const batchId = await seedFinishedBatch(h, t.id, { completedAt: DAY1, jobs: [{ status: 'succeeded', attempts: 1, durationMs: 5 }] });
    await h.sql.unsafe(`
      create function fail_stats() returns trigger language plpgsql as $$
      begin
        raise exception 'stats always fail';
      end $$;
      create trigger fail_stats before insert on job_stats_daily for each statement execute function fail_stats();
    `);
    try {
      const { body } = await startManual(t.key);
      // max_retries 3: four attempts in all, with 1 + 2 + 4 s of backoff.
      const done = await waitForConsolidation(h, t.key, body.id);
      expect(done).toMatchObject({ status: 'failed', retryCount: 4, maxRetries: 3, phasesCompleted: ['collect'] });
      expect(done.errorMessage).toContain('phase stats failed: stats always fail');
      expect((await scheduledActivities(h, consolidationWorkflowId(t.id))).consolidationStats).toBe(4);
      const [row] = await h.sql`select consolidation_id from batches where id = ${batchId}`;
      expect(row!.consolidationId).toBeNull();
    } finally {
      await h.sql.unsafe(`drop trigger fail_stats on job_stats_daily; drop function fail_stats();`);
    }
  });
});

describe('retention', () => {
  it('deletes only old finished batches whose stats were rolled up, and keeps their stats', async () => {
    const t = await h.tenant();
    const other = await h.tenant();
    const daysAgo = (d: number) => new Date(Date.now() - d * 86_400_000);
    const old = await seedFinishedBatch(h, t.id, { completedAt: daysAgo(40), jobs: [{ status: 'succeeded', attempts: 1, durationMs: 7 }, { status: 'failed', attempts: 2, durationMs: 9 }] });
    const recent = await seedFinishedBatch(h, t.id, { completedAt: daysAgo(1), jobs: [{ status: 'succeeded', attempts: 1, durationMs: 7 }] });
    const oldRunning = await seedFinishedBatch(h, t.id, { completedAt: daysAgo(40), status: 'running', jobs: [{ status: 'succeeded', attempts: 1, durationMs: 7 }] });
    // Old and finished but outside the scope below: never rolled up, so kept.
    const oldOutOfScope = await seedFinishedBatch(h, t.id, { jobType: 'report.render', completedAt: daysAgo(40), jobs: [{ status: 'succeeded', attempts: 1, durationMs: 7 }] });
    const otherTenants = await seedFinishedBatch(h, other.id, { completedAt: daysAgo(40), jobs: [{ status: 'succeeded', attempts: 1, durationMs: 7 }] });
    await h.request('PATCH', '/v1/settings', { key: other.key, json: { retentionDays: 30 } });
    const patched = await h.request('PATCH', '/v1/settings', { key: t.key, json: { retentionDays: 30 } });
    expect(await patched.json()).toEqual({ consolidationThreshold: null, retentionDays: 30, maxJobsInFlight: 1000 });

    const { body } = await startManual(t.key, { jobTypes: ['sleep'] });
    const done = await waitForConsolidation(h, t.key, body.id);
    expect(done.status).toBe('completed');
    expect(done.metrics.retention).toEqual({ retentionDays: 30, batchesDeleted: 1, jobsDeleted: 2 });
    const left = await h.sql<{ id: string }[]>`select id from batches where id in ${h.sql([old, recent, oldRunning, oldOutOfScope, otherTenants])}`;
    expect(left.map((r) => r.id).sort()).toEqual([recent, oldRunning, oldOutOfScope, otherTenants].sort());
    expect((await h.sql`select id from jobs where batch_id = ${old}`).length).toBe(0);
    const kept = await stats(t.key);
    expect(kept.reduce((n, s) => n + s.jobs, 0)).toBe(3);
    expect(kept.find((s) => s.day === daysAgo(40).toISOString().slice(0, 10))).toMatchObject({ jobs: 2, succeeded: 1, failed: 1, retries: 1 });
  });
});

it('GET /v1/consolidations/:id answers 404 for an unknown id', async () => {
  const t = await h.tenant();
  const res = await h.request('GET', '/v1/consolidations/3b241101-e2bb-4255-8caf-4136c566a962', { key: t.key });
  expect(res.status).toBe(404);
  await expect(getConsolidation(h, t.key, '3b241101-e2bb-4255-8caf-4136c566a962')).rejects.toThrow(/404/);
});

describe('an active consolidation whose workflow closed without ending it', () => {
  it('terminated by an operator: the next read shows it failed, and the next start is not held by it', async () => {
    const t = await h.tenant();
    // A claimed consolidation whose workflow runs on a queue no worker polls, so it is
    // certainly still open when it is terminated, as an operator would in the UI.
    const { row } = await claimConsolidation(h.sql, { tenantId: t.id, triggerType: 'manual', triggeredBy: 'test', scope: {}, workflowId: consolidationWorkflowId(t.id) });
    await startConsolidationWorkflow({ ...h.temporal, taskQueue: `nobody-${row.id}` }, { consolidationId: row.id, tenantId: t.id, triggerType: 'manual', tenantName: t.name });
    await h.client.workflow.getHandle(consolidationWorkflowId(t.id)).terminate('operator test');
    // Until something looks, the row still says pending.
    expect((await h.sql`select status from consolidations where id = ${row.id}`)[0]!.status).toBe('pending');

    // A list of the active ones no longer shows it; the list of all shows it failed.
    expect(await listConsolidations(h, t.key, '?status=pending')).toEqual([]);
    expect((await listConsolidations(h, t.key)).map((c) => [c.id, c.status])).toEqual([[row.id, 'failed']]);
    const stale = await getConsolidation(h, t.key, row.id);
    expect(stale.status).toBe('failed');
    expect(stale.errorMessage).toMatch(/closed \(terminated\) without recording an outcome/);

    // A new start is a new consolidation (202), which runs to the end.
    const res = await h.request('POST', '/v1/consolidations', { key: t.key, json: {} });
    expect(res.status).toBe(202);
    const started = (await res.json()) as ConsolidationBody;
    expect(started.id).not.toBe(row.id);
    expect((await waitForConsolidation(h, t.key, started.id)).status).toBe('completed');
  });

  it('a claim whose workflow never started: released once it is a minute old, by the next start', async () => {
    const t = await h.tenant();
    const { row } = await claimConsolidation(h.sql, { tenantId: t.id, triggerType: 'manual', triggeredBy: 'test', scope: {}, workflowId: consolidationWorkflowId(t.id) });
    // A fresh claim is left alone: its workflow is about to start.
    let res = await h.request('POST', '/v1/consolidations', { key: t.key, json: {} });
    expect(res.status).toBe(200);
    expect(((await res.json()) as ConsolidationBody).id).toBe(row.id);

    await h.sql`update consolidations set created_at = now() - interval '2 minutes' where id = ${row.id}`;
    res = await h.request('POST', '/v1/consolidations', { key: t.key, json: {} });
    expect(res.status).toBe(202);
    const started = (await res.json()) as ConsolidationBody;
    expect((await waitForConsolidation(h, t.key, started.id)).status).toBe('completed');
    const stale = await getConsolidation(h, t.key, row.id);
    expect(stale).toMatchObject({ status: 'failed' });
    expect(stale.errorMessage).toMatch(/never started/);
  });
});
