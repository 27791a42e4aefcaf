import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimConsolidation } from '../../db/consolidations.js';
import { consolidationScheduleId, consolidationWorkflowId } from '../../lib/names.js';
import { startConsolidationWorkflow } from '../../temporal/consolidation-client.js';
import { listConsolidations, waitFor, waitForConsolidation, type ConsolidationBody } from '../support/consolidation.js';
import { createHarness, sleepItems, type Harness, type TestTenant } from '../support/harness.js';

let h: Harness;
const schedulesToDelete: string[] = [];
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  // The dev server is shared by every test file: leave no schedule behind.
  for (const id of schedulesToDelete) await h.client.schedule.getHandle(id).delete().catch(() => {});
  await h?.close();
});

/** Submits a batch of n sleep jobs and waits for its workflow to end (threshold check included). */
async function runBatch(t: TestTenant, n: number): Promise<void> {
  const { body } = await h.submit(t.key, { type: 'sleep', items: sleepItems(Array.from({ length: n }, () => ({ ms: 0 }))) });
  await h.client.workflow.getHandle(body.workflowId as string).result();
}

describe('threshold trigger', () => {
  it('fires once when crossed, and not again until crossed anew', async () => {
    const t = await h.tenant();
    const res = await h.request('PATCH', '/v1/settings', { key: t.key, json: { consolidationThreshold: 5 } });
    expect(res.status).toBe(200);
    expect(await (await h.request('GET', '/v1/settings', { key: t.key })).json()).toEqual({ consolidationThreshold: 5, retentionDays: null, maxJobsInFlight: 1000 });

    await runBatch(t, 3);
    expect(await listConsolidations(h, t.key)).toEqual([]);

    await runBatch(t, 3); // 6 ≥ 5: crossed
    const [first, ...others] = await listConsolidations(h, t.key);
    expect(others).toEqual([]);
    expect(first).toMatchObject({ triggerType: 'threshold' });
    expect(first!.triggeredBy).toMatch(/^threshold:5 /);
    const firstDone = await waitForConsolidation(h, t.key, first!.id);
    expect(firstDone).toMatchObject({ status: 'completed', metrics: { collect: { batches: 2, jobs: 6 } } });

    await runBatch(t, 2); // 2 unconsolidated: below
    await runBatch(t, 2); // 4: still below
    expect((await listConsolidations(h, t.key)).map((c) => c.id)).toEqual([first!.id]);

    await runBatch(t, 1); // 5: crossed anew
    const all = await listConsolidations(h, t.key, '?trigger=threshold');
    expect(all).toHaveLength(2);
    const second = await waitForConsolidation(h, t.key, all[0]!.id);
    expect(second).toMatchObject({ status: 'completed', metrics: { collect: { batches: 3, jobs: 5 } } });
  });

  it("is not held by an active consolidation whose workflow was terminated: that one ends failed", async () => {
    const t = await h.tenant();
    await h.request('PATCH', '/v1/settings', { key: t.key, json: { consolidationThreshold: 3 } });
    // An open consolidation workflow (on a queue no worker polls), terminated by an operator.
    const { row } = await claimConsolidation(h.sql, { tenantId: t.id, triggerType: 'manual', triggeredBy: 'test', scope: {}, workflowId: consolidationWorkflowId(t.id) });
    await startConsolidationWorkflow({ ...h.temporal, taskQueue: `nobody-${row.id}` }, { consolidationId: row.id, tenantId: t.id, triggerType: 'manual', tenantName: t.name });
    await h.client.workflow.getHandle(consolidationWorkflowId(t.id)).terminate('operator test');

    await runBatch(t, 3); // crossed: the batch workflow's claim meets the orphan
    const [fired, stale] = await listConsolidations(h, t.key);
    expect(stale).toMatchObject({ id: row.id, status: 'failed' });
    expect(fired).toMatchObject({ triggerType: 'threshold' });
    expect(await waitForConsolidation(h, t.key, fired!.id)).toMatchObject({ status: 'completed', metrics: { collect: { batches: 1, jobs: 3 } } });
  });

  it('does nothing for a tenant without a threshold', async () => {
    const t = await h.tenant();
    await runBatch(t, 4);
    expect(await listConsolidations(h, t.key)).toEqual([]);
  });
});

describe('one consolidation per tenant at a time', () => {
  it('overlapping requests yield one run, and every request gets it', async () => {
    const t = await h.tenant();
    // With the worker stopped the run stays pending, so every request overlaps it.
    await h.stopWorker();
    let responses: { status: number; body: ConsolidationBody }[];
    try {
      responses = await Promise.all(
        Array.from({ length: 6 }, async () => {
          const res = await h.request('POST', '/v1/consolidations', { key: t.key, json: {} });
          return { status: res.status, body: (await res.json()) as ConsolidationBody };
        }),
      );
    } finally {
      await h.startWorker();
    }
    const ids = new Set(responses.map((r) => r.body.id));
    expect(ids.size).toBe(1);
    expect(responses.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 202]);
    const [id] = [...ids];
    const done = await waitForConsolidation(h, t.key, id!);
    expect(done.status).toBe('completed');
    expect(await listConsolidations(h, t.key)).toHaveLength(1);
    const runs = [];
    for await (const wf of h.client.workflow.list({ query: `WorkflowId = '${consolidationWorkflowId(t.id)}'` })) runs.push(wf);
    expect(runs).toHaveLength(1);
  });
});

describe('consolidation schedules', () => {
  it('creates a Temporal Schedule, fires on trigger recording trigger_type scheduled, updates, pauses and deletes', async () => {
    const t = await h.tenant();
    const scheduleId = consolidationScheduleId(t.id, 'nightly');
    schedulesToDelete.push(scheduleId);
    const put = await h.request('PUT', '/v1/consolidation-schedules/nightly', {
      key: t.key,
      json: { cron: '0 3 * * *', timezone: 'Europe/Paris', scope: { jobTypes: ['sleep'] } },
    });
    expect(put.status).toBe(201);
    const created = (await put.json()) as { scheduleId: string; temporal: { paused: boolean; nextRunTimes: string[] } };
    expect(created.scheduleId).toBe(scheduleId);
    expect(created.temporal.paused).toBe(false);
    expect(created.temporal.nextRunTimes.length).toBeGreaterThan(0);

    // The schedule list is read from visibility, which catches up with a create a moment later.
    const listed = await waitFor(
      'the schedule in the schedule list',
      async () => {
        const ids: string[] = [];
        for await (const s of h.client.schedule.list()) ids.push(s.scheduleId);
        return ids;
      },
      (ids) => ids.includes(scheduleId),
    );
    expect(listed).toContain(scheduleId);

    await runBatch(t, 2);
    const trig = await h.request('POST', '/v1/consolidation-schedules/nightly/trigger', { key: t.key });
    expect(trig.status).toBe(202);
    const [run] = await waitFor('scheduled consolidation', () => listConsolidations(h, t.key, '?trigger=scheduled'), (l) => l.length > 0);
    const done = await waitForConsolidation(h, t.key, run!.id);
    expect(done).toMatchObject({
      status: 'completed',
      triggerType: 'scheduled',
      triggeredBy: 'schedule:nightly',
      scope: { jobTypes: ['sleep'] },
      metrics: { collect: { batches: 1, jobs: 2 } },
    });

    const got = (await (await h.request('GET', '/v1/consolidation-schedules', { key: t.key })).json()) as {
      items: { name: string; temporal: { recentRuns: { workflowId: string }[]; skippedByOverlap: number; runsTaken: number } }[];
    };
    expect(got.items).toHaveLength(1);
    expect(got.items[0]!.name).toBe('nightly');
    expect(got.items[0]!.temporal.recentRuns.length).toBeGreaterThanOrEqual(1);
    expect(got.items[0]!.temporal.recentRuns[0]!.workflowId).toContain(`consolidation-schedule-${t.id}-nightly`);
    expect(got.items[0]!.temporal.skippedByOverlap).toBe(0);

    const update = await h.request('PUT', '/v1/consolidation-schedules/nightly', { key: t.key, json: { cron: '30 4 * * 1', paused: true } });
    expect(update.status).toBe(200);
    const desc = await h.client.schedule.getHandle(scheduleId).describe();
    expect(desc.state.paused).toBe(true);
    expect(desc.spec.calendars?.[0]).toMatchObject({ hour: [{ start: 4, end: 4, step: 1 }], minute: [{ start: 30, end: 30, step: 1 }] });

    const del = await h.request('DELETE', '/v1/consolidation-schedules/nightly', { key: t.key });
    expect(del.status).toBe(204);
    expect((await h.request('GET', '/v1/consolidation-schedules/nightly', { key: t.key })).status).toBe(404);
    await expect(h.client.schedule.getHandle(scheduleId).describe()).rejects.toThrow();
  });

  it('backfills missed periods, each a scheduled run', async () => {
    const t = await h.tenant();
    schedulesToDelete.push(consolidationScheduleId(t.id, 'hourly'));
    const put = await h.request('PUT', '/v1/consolidation-schedules/hourly', { key: t.key, json: { cron: '0 * * * *' } });
    expect(put.status).toBe(201);
    const hour = 3_600_000;
    const start = new Date(Math.floor(Date.now() / hour) * hour - 3 * hour + hour / 2);
    const end = new Date(start.getTime() + 2 * hour); // two hour marks in between
    const res = await h.request('POST', '/v1/consolidation-schedules/hourly/backfill', {
      key: t.key,
      json: { start: start.toISOString(), end: end.toISOString() },
    });
    expect(res.status).toBe(202);
    const runs = await waitFor(
      'backfilled runs',
      () => listConsolidations(h, t.key, '?trigger=scheduled&status=completed'),
      (l) => l.length >= 2,
    );
    expect(runs).toHaveLength(2);
    expect(runs.every((r) => r.triggeredBy === 'schedule:hourly')).toBe(true);
  });

  it('rejects a cron Temporal does not accept, and a bad time zone, with 400', async () => {
    const t = await h.tenant();
    const bad = await h.request('PUT', '/v1/consolidation-schedules/bad', { key: t.key, json: { cron: 'not a cron' } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { errors: { path: string }[] }).errors[0]!.path).toBe('body.cron');
    const tz = await h.request('PUT', '/v1/consolidation-schedules/bad', { key: t.key, json: { cron: '0 3 * * *', timezone: 'Mars/Olympus' } });
    expect(tz.status).toBe(400);
    expect((await (await h.request('GET', '/v1/consolidation-schedules', { key: t.key })).json()) as unknown).toEqual({ items: [] });
  });
});
