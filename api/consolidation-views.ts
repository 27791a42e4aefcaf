import type { ScheduleRow } from '../db/consolidation-schedules.js';
import type { ConsolidationRow } from '../db/consolidations.js';
import { InvalidInputError } from '../lib/errors.js';
import type { ScheduleRuntime } from '../temporal/consolidation-client.js';

/** Every field of a consolidation, as the seed's `to_dict` had them, camelCased. */
export function consolidationView(row: ConsolidationRow, links: { temporalUi: string | null }) {
  return {
    id: row.id,
    tenantId: row.tenantId,
    status: row.status,
    triggerType: row.triggerType,
    triggeredBy: row.triggeredBy,
    scope: row.scope,
    phasesCompleted: row.phasesCompleted,
    metrics: row.metrics,
    startedAt: row.startedAt?.toISOString() ?? null,
    completedAt: row.completedAt?.toISOString() ?? null,
    durationSeconds: row.durationSeconds,
    errorMessage: row.errorMessage,
    retryCount: row.retryCount,
    maxRetries: row.maxRetries,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    workflowId: row.workflowId,
    links: { self: `/v1/consolidations/${row.id}`, ...links },
  };
}

export function scheduleView(row: ScheduleRow, runtime: ScheduleRuntime | null) {
  return {
    name: row.name,
    scheduleId: row.scheduleId,
    cron: row.cron,
    timezone: row.timezone,
    scope: row.scope,
    paused: row.paused,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    /** Live from Temporal; null when Temporal does not know the schedule. */
    temporal: runtime,
    links: { self: `/v1/consolidation-schedules/${row.name}` },
  };
}

/** Keyset cursor: the last row's created_at (microseconds) and id, opaque to clients. */
export const encodeCursor = (row: ConsolidationRow): string =>
  Buffer.from(JSON.stringify([row.createdAtKey, row.id])).toString('base64url');

export function decodeCursor(cursor: string): { createdAt: string; id: string } {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof createdAt === 'string' && typeof id === 'string' && /^[0-9a-f-]{36}$/.test(id) && !Number.isNaN(Date.parse(createdAt))) {
      return { createdAt, id };
    }
  } catch {
    // fall through to the error below
  }
  throw new InvalidInputError('The cursor is not valid; use the nextCursor value of the previous page.', [
    { path: 'query.cursor', message: 'use the nextCursor value of the previous page' },
  ]);
}
