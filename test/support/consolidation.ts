/** Helpers for consolidation tests: finished batches with known figures, polling, history. */
import { randomUUID } from 'node:crypto';
import { insertBatch } from '../../db/batches.js';
import type { Harness } from './harness.js';

export interface SeedJob {
  status: 'succeeded' | 'failed' | 'cancelled';
  attempts: number;
  /** Run time; null for a job that never started. */
  durationMs: number | null;
}

/**
 * A finished batch written straight to the database (no workflow), so its durations,
 * attempts and end times are known exactly.
 */
export async function seedFinishedBatch(
  h: Harness,
  tenantId: string,
  o: { jobType?: string; jobs: SeedJob[]; completedAt: Date; status?: 'completed' | 'partial' | 'failed' | 'cancelled' | 'running' },
): Promise<string> {
  const batch = await h.sql.begin((tx) =>
    insertBatch(
    tx,
    {
      tenantId,
      createdBy: null,
      jobType: o.jobType ?? 'sleep',
      mode: 'activity',
      concurrency: 1,
      maxRetries: 3,
      retryInitialIntervalMs: 100,
      retryBackoffCoefficient: 2,
      retryMaximumIntervalMs: 1000,
      workflowIdOf: () => `seeded-${randomUUID()}`,
    },
    o.jobs.map((_, i) => ({ i })),
    ),
  );
  const end = o.completedAt.getTime();
  for (const [seq, j] of o.jobs.entries()) {
    await h.sql`
      update jobs
      set status = ${j.status}::job_status,
        attempts = ${j.attempts},
        started_at = ${j.durationMs === null ? null : new Date(end - j.durationMs)},
        completed_at = ${o.completedAt}
      where batch_id = ${batch.id}
        and seq = ${seq}
    `;
  }
  const count = (s: SeedJob['status']) => o.jobs.filter((j) => j.status === s).length;
  const running = o.status === 'running';
  await h.sql`
    update batches
    set status = ${o.status ?? 'completed'}::batch_status,
      succeeded_jobs = ${running ? 0 : count('succeeded')},
      failed_jobs = ${running ? 0 : count('failed')},
      cancelled_jobs = ${running ? 0 : count('cancelled')},
      created_at = ${new Date(end - 60_000)},
      started_at = ${new Date(end - 60_000)},
      completed_at = ${running ? null : o.completedAt}
    where id = ${batch.id}
  `;
  return batch.id;
}

export interface ConsolidationBody {
  id: string;
  tenantId: string;
  status: 'pending' | 'running' | 'completed' | 'failed' | 'cancelled';
  triggerType: 'scheduled' | 'manual' | 'threshold';
  triggeredBy: string;
  scope: Record<string, unknown>;
  phasesCompleted: string[];
  metrics: Record<string, Record<string, unknown>>;
  startedAt: string | null;
  completedAt: string | null;
  durationSeconds: number | null;
  errorMessage: string | null;
  retryCount: number;
  maxRetries: number;
  createdAt: string;
  workflowId: string;
}

const WAIT_LIMIT_MS = 120_000;

/** Polls until `done` holds; bounded so a stuck run fails the test instead of hanging it. */
export async function waitFor<T>(what: string, probe: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + WAIT_LIMIT_MS;
  for (;;) {
    const v = await probe();
    if (done(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: still not done after ${WAIT_LIMIT_MS} ms: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

export async function getConsolidation(h: Harness, key: string, id: string): Promise<ConsolidationBody> {
  const res = await h.request('GET', `/v1/consolidations/${id}`, { key });
  if (res.status !== 200) throw new Error(`GET consolidation ${id}: ${res.status} ${await res.text()}`);
  return (await res.json()) as ConsolidationBody;
}

export const waitForConsolidation = (h: Harness, key: string, id: string) =>
  waitFor(`consolidation ${id}`, () => getConsolidation(h, key, id), (c) => ['completed', 'failed', 'cancelled'].includes(c.status));

export async function listConsolidations(h: Harness, key: string, query = ''): Promise<ConsolidationBody[]> {
  const res = await h.request('GET', `/v1/consolidations${query}`, { key });
  return ((await res.json()) as { items: ConsolidationBody[] }).items;
}

/** How many times each activity type was scheduled in the latest run of a workflow. */
export async function scheduledActivities(h: Harness, workflowId: string): Promise<Record<string, number>> {
  const history = await h.client.workflow.getHandle(workflowId).fetchHistory();
  const counts: Record<string, number> = {};
  for (const e of history.events ?? []) {
    const name = e.activityTaskScheduledEventAttributes?.activityType?.name;
    if (name) counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}
