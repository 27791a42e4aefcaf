/** Tenants' consolidation schedules: the record the API lists; Temporal holds the timing. */
import type { ConsolidationScope } from '../lib/names.js';
import type { Db } from './client.js';

export interface ScheduleRow {
  id: string;
  tenantId: string;
  name: string;
  scheduleId: string;
  cron: string;
  timezone: string;
  scope: ConsolidationScope;
  paused: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface ScheduleInput {
  tenantId: string;
  name: string;
  scheduleId: string;
  cron: string;
  timezone: string;
  scope: ConsolidationScope;
  paused: boolean;
  createdBy: string | null;
}

const columns = (sql: Db) => sql`
  id, tenant_id, name, schedule_id, cron, timezone, scope, paused, created_at, updated_at
`;

/** Creates or replaces the tenant's schedule of that name; `created` tells which. */
export async function upsertSchedule(sql: Db, s: ScheduleInput): Promise<{ row: ScheduleRow; created: boolean }> {
  const [row] = await sql<(ScheduleRow & { created: boolean })[]>`
    insert into consolidation_schedules (tenant_id, name, schedule_id, cron, timezone, scope, paused, created_by)
    values (${s.tenantId}, ${s.name}, ${s.scheduleId}, ${s.cron}, ${s.timezone}, ${sql.json(s.scope as never)}, ${s.paused}, ${s.createdBy})
    on conflict (tenant_id, name) do update
    set cron = excluded.cron,
      timezone = excluded.timezone,
      scope = excluded.scope,
      paused = excluded.paused,
      updated_at = now()
    returning ${columns(sql)}, (xmax = 0) as created
  `;
  const { created, ...rest } = row!;
  return { row: rest, created };
}

export async function getSchedule(sql: Db, tenantId: string, name: string): Promise<ScheduleRow | undefined> {
  const [row] = await sql<ScheduleRow[]>`
    select ${columns(sql)}
    from consolidation_schedules
    where tenant_id = ${tenantId}
      and name = ${name}
  `;
  return row;
}

export async function listSchedules(sql: Db, tenantId: string): Promise<ScheduleRow[]> {
  return sql<ScheduleRow[]>`
    select ${columns(sql)}
    from consolidation_schedules
    where tenant_id = ${tenantId}
    order by name
    limit 1000
  `;
}

export async function deleteSchedule(sql: Db, tenantId: string, name: string): Promise<boolean> {
  const rows = await sql`
    delete from consolidation_schedules
    where tenant_id = ${tenantId}
      and name = ${name}
    returning id
  `;
  return rows.length > 0;
}
