/** Consolidation workflows and Schedules from the API side (the worker side is workflows/). */
import {
  isGrpcServiceError,
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ServiceError,
  type ScheduleDescription,
} from '@temporalio/client';
import { InvalidInputError, NotFoundError, UnavailableError } from '../lib/errors.js';
import {
  consolidationScheduleId,
  consolidationWorkflowId,
  scheduledConsolidationWorkflowId,
  SearchAttributes,
  type ConsolidationScope,
  type TriggerType,
} from '../lib/names.js';
import type { consolidationWorkflow, ScheduledConsolidationArgs } from '../workflows/index.js';
import type { TemporalDeps } from './batch-client.js';

/** gRPC INVALID_ARGUMENT: the server refused a value (e.g. a cron expression). */
const INVALID_ARGUMENT = 3;
/** How long a start waits for the tenant's previous run to close before giving up. */
const START_ATTEMPTS = 20;

/**
 * Starts the claimed consolidation under the tenant's workflow id. USE_EXISTING makes a
 * repeated start a no-op; the memo tells our run from a previous one that has closed
 * its row but not yet its workflow, in which case we wait for it to end.
 */
export async function startConsolidationWorkflow(
  t: TemporalDeps,
  c: { consolidationId: string; tenantId: string; triggerType: TriggerType; tenantName: string },
): Promise<void> {
  const workflowId = consolidationWorkflowId(c.tenantId);
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    const handle = await t.client.workflow.start<typeof consolidationWorkflow>('consolidationWorkflow', {
      workflowId,
      taskQueue: t.taskQueue,
      args: [{ consolidationId: c.consolidationId, tenantId: c.tenantId }],
      workflowIdConflictPolicy: 'USE_EXISTING',
      typedSearchAttributes: [
        { key: SearchAttributes.TenantId, value: c.tenantId },
        { key: SearchAttributes.ConsolidationTrigger, value: c.triggerType },
      ],
      memo: { consolidationId: c.consolidationId, tenant: c.tenantName },
      staticSummary: `${c.triggerType} consolidation, tenant ${c.tenantName}`,
      staticDetails: `Consolidation ${c.consolidationId}`,
    });
    const desc = await handle.describe();
    if (desc.memo?.consolidationId === c.consolidationId) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new UnavailableError(`The tenant's previous consolidation workflow (${workflowId}) has not closed; try again shortly.`);
}

export interface ScheduleSpecInput {
  tenantId: string;
  tenantName: string;
  name: string;
  cron: string;
  timezone: string;
  scope: ConsolidationScope;
  paused: boolean;
}

/** Creates the tenant's Temporal Schedule or updates it in place (overlap SKIP, 1 h catch-up window). */
export async function upsertConsolidationSchedule(t: TemporalDeps, s: ScheduleSpecInput): Promise<void> {
  const scheduleId = consolidationScheduleId(s.tenantId, s.name);
  const args: ScheduledConsolidationArgs = { tenantId: s.tenantId, scheduleName: s.name, scope: s.scope };
  const action = {
    type: 'startWorkflow' as const,
    workflowType: 'scheduledConsolidationWorkflow',
    workflowId: scheduledConsolidationWorkflowId(s.tenantId, s.name),
    taskQueue: t.taskQueue,
    args: [args],
    typedSearchAttributes: [
      { key: SearchAttributes.TenantId, value: s.tenantId },
      { key: SearchAttributes.ConsolidationTrigger, value: 'scheduled' },
    ],
    staticSummary: `scheduled consolidation '${s.name}', tenant ${s.tenantName}`,
  };
  const spec = { cronExpressions: [s.cron], timezone: s.timezone };
  const policies = { overlap: 'SKIP' as const, catchupWindow: '1 hour' };
  try {
    try {
      await t.client.schedule.create({
        scheduleId,
        spec,
        action,
        policies,
        state: { paused: s.paused, note: `tenant ${s.tenantName}` },
        typedSearchAttributes: [{ key: SearchAttributes.TenantId, value: s.tenantId }],
        memo: { tenant: s.tenantName, name: s.name },
      });
    } catch (err) {
      if (!(err instanceof ScheduleAlreadyRunning)) throw err;
      const handle = t.client.schedule.getHandle(scheduleId);
      await handle.update((prev) => ({ ...prev, spec, action, policies, state: { ...prev.state, paused: s.paused } }));
    }
  } catch (err) {
    // The SDK parses cron strings itself (a TypeError); the server checks the rest.
    const grpc = err instanceof ServiceError ? err.cause : err;
    const refusal = err instanceof TypeError ? err.message : isGrpcServiceError(grpc) && grpc.code === INVALID_ARGUMENT ? grpc.details || grpc.message : undefined;
    if (refusal !== undefined) {
      throw new InvalidInputError(`Temporal refused the schedule: ${refusal}; use a 5-field cron such as "0 3 * * *".`, [
        { path: 'body.cron', message: refusal },
      ]);
    }
    throw err;
  }
}

export interface ScheduleRuntime {
  paused: boolean;
  nextRunTimes: string[];
  recentRuns: { workflowId: string; scheduledAt: string; takenAt: string }[];
  runningWorkflowIds: string[];
  runsTaken: number;
  skippedByOverlap: number;
  missedCatchupWindow: number;
}

const runtimeOf = (d: ScheduleDescription): ScheduleRuntime => ({
  paused: d.state.paused,
  nextRunTimes: d.info.nextActionTimes.slice(0, 5).map((x) => x.toISOString()),
  recentRuns: d.info.recentActions.map((a) => ({
    workflowId: a.action.workflow.workflowId,
    scheduledAt: a.scheduledAt.toISOString(),
    takenAt: a.takenAt.toISOString(),
  })),
  runningWorkflowIds: d.info.runningActions.map((a) => a.workflow.workflowId),
  runsTaken: d.info.numActionsTaken,
  skippedByOverlap: d.info.numActionsSkippedOverlap,
  missedCatchupWindow: d.info.numActionsMissedCatchupWindow,
});

/** The schedule as Temporal runs it, or null when Temporal does not know it (e.g. a reset dev server). */
export async function describeConsolidationSchedule(t: TemporalDeps, scheduleId: string): Promise<ScheduleRuntime | null> {
  try {
    return runtimeOf(await t.client.schedule.getHandle(scheduleId).describe());
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return null;
    throw err;
  }
}

export async function deleteConsolidationSchedule(t: TemporalDeps, scheduleId: string): Promise<void> {
  try {
    await t.client.schedule.getHandle(scheduleId).delete();
  } catch (err) {
    if (!(err instanceof ScheduleNotFoundError)) throw err;
  }
}

const notInTemporal = (scheduleId: string) =>
  new NotFoundError(`Temporal has no schedule ${scheduleId}; PUT the schedule again to recreate it.`);

/** Runs the schedule's action now. Overlap is allowed here: the consolidation itself refuses a second run. */
export async function triggerConsolidationSchedule(t: TemporalDeps, scheduleId: string): Promise<void> {
  try {
    await t.client.schedule.getHandle(scheduleId).trigger('ALLOW_ALL');
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) throw notInTemporal(scheduleId);
    throw err;
  }
}

/** Runs the actions the schedule would have taken between start and end, one after another. */
export async function backfillConsolidationSchedule(t: TemporalDeps, scheduleId: string, start: Date, end: Date): Promise<void> {
  try {
    await t.client.schedule.getHandle(scheduleId).backfill({ start, end, overlap: 'BUFFER_ALL' });
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) throw notInTemporal(scheduleId);
    throw err;
  }
}
