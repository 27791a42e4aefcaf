/** The consolidation record: claim (one active per tenant), lifecycle, phases, listing. */
import type { ConsolidationPhase, ConsolidationScope, ConsolidationStatus, TriggerType } from '../lib/names.js';
import type { Db, Sql } from './client.js';
import { hasSqlState, SqlState } from './pg-errors.js';

export interface ConsolidationRow {
  id: string;
  tenantId: string;
  status: ConsolidationStatus;
  triggerType: TriggerType;
  triggeredBy: string;
  scope: ConsolidationScope;
  phasesCompleted: ConsolidationPhase[];
  metrics: Record<string, unknown>;
  workflowId: string | null;
  startedAt: Date | null;
  completedAt: Date | null;
  durationSeconds: number | null;
  errorMessage: string | null;
  retryCount: number;
  maxRetries: number;
  createdAt: Date;
  updatedAt: Date;
  /** created_at with microseconds, for keyset cursors (a JS Date keeps only milliseconds). */
  createdAtKey: string;
}

export interface NewConsolidation {
  tenantId: string;
  triggerType: TriggerType;
  triggeredBy: string;
  scope: ConsolidationScope;
  workflowId: string;
}

const columns = (sql: Db) => sql`
  id, tenant_id, status, trigger_type, triggered_by, scope, phases_completed, metrics, workflow_id,
  started_at, completed_at, duration_seconds, error_message, retry_count, max_retries, created_at, updated_at,
  to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as created_at_key
`;

export async function getConsolidation(sql: Db, tenantId: string, id: string): Promise<ConsolidationRow | undefined> {
  const [row] = await sql<ConsolidationRow[]>`
    select ${columns(sql)}
    from consolidations
    where id = ${id}
      and tenant_id = ${tenantId}
  `;
  return row;
}

export async function getConsolidationById(sql: Db, id: string): Promise<ConsolidationRow | undefined> {
  const [row] = await sql<ConsolidationRow[]>`
    select ${columns(sql)}
    from consolidations
    where id = ${id}
  `;
  return row;
}

async function getActive(sql: Db, tenantId: string): Promise<ConsolidationRow | undefined> {
  const [row] = await sql<ConsolidationRow[]>`
    select ${columns(sql)}
    from consolidations
    where tenant_id = ${tenantId}
      and status in ('pending', 'running')
  `;
  return row;
}

/**
 * A new pending consolidation, or the tenant's active one when there is one: the
 * partial unique index on active rows decides, so concurrent claims yield one row.
 */
export async function claimConsolidation(
  sql: Sql,
  c: NewConsolidation,
): Promise<{ row: ConsolidationRow; created: boolean }> {
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const [row] = await sql<ConsolidationRow[]>`
        insert into consolidations (tenant_id, trigger_type, triggered_by, scope, workflow_id)
        values (${c.tenantId}, ${c.triggerType}, ${c.triggeredBy}, ${sql.json(c.scope as never)}, ${c.workflowId})
        returning ${columns(sql)}
      `;
      return { row: row!, created: true };
    } catch (err) {
      if (!hasSqlState(err, SqlState.UniqueViolation)) throw err;
    }
    // The active one may end between the failed insert and this read: then try again.
    const active = await getActive(sql, c.tenantId);
    if (active) return { row: active, created: false };
  }
  throw new Error(`could not claim a consolidation for tenant ${c.tenantId}: the active one kept changing`);
}

/** pending → running, once; the row either way. */
export async function markConsolidationRunning(sql: Db, id: string): Promise<ConsolidationRow | undefined> {
  await sql`
    update consolidations
    set status = 'running',
      started_at = coalesce(started_at, now()),
      updated_at = now()
    where id = ${id}
      and status = 'pending'
  `;
  return getConsolidationById(sql, id);
}

export type PhaseOutcome = { ran: true; figures: Record<string, unknown> } | { ran: false; figures: unknown };

/**
 * Runs one phase's effects and records the phase in the same transaction, with the
 * row locked: a phase already in `phases_completed` is not run again (its recorded
 * figures come back), so a retried or duplicated activity has its effects once.
 */
export async function runPhaseOnce(
  sql: Sql,
  id: string,
  phase: ConsolidationPhase,
  effects: (tx: Db, row: ConsolidationRow) => Promise<Record<string, unknown>>,
): Promise<PhaseOutcome | undefined> {
  return sql.begin(async (tx) => {
    const [row] = await tx<ConsolidationRow[]>`
      select ${columns(tx)}
      from consolidations
      where id = ${id}
      for update
    `;
    if (!row) return undefined;
    if (row.phasesCompleted.includes(phase)) return { ran: false, figures: row.metrics[phase] };
    const figures = await effects(tx, row);
    await tx`
      update consolidations
      set phases_completed = array_append(phases_completed, ${phase}::text),
        metrics = metrics || jsonb_build_object(${phase}::text, ${tx.json(figures as never)}::jsonb),
        updated_at = now()
      where id = ${id}
        and not (${phase}::text = any(phases_completed))
    `;
    return { ran: true, figures };
  }) as Promise<PhaseOutcome | undefined>;
}

/** Counts a failed phase attempt and keeps its message; the retry budget is the caller's to enforce. */
export async function recordConsolidationFailure(sql: Db, id: string, message: string): Promise<ConsolidationRow | undefined> {
  await sql`
    update consolidations
    set retry_count = retry_count + 1,
      error_message = ${message},
      updated_at = now()
    where id = ${id}
      and status = 'running'
  `;
  return getConsolidationById(sql, id);
}

/**
 * running/pending → completed, failed or cancelled, once. A run that ends without its
 * stats phase gives its batches back, so the next consolidation rolls them up.
 */
export async function finishConsolidation(
  sql: Sql,
  id: string,
  status: 'completed' | 'failed' | 'cancelled',
  message?: string,
): Promise<ConsolidationRow | undefined> {
  await sql.begin(async (tx) => {
    const [ended] = await tx<{ phasesCompleted: string[] }[]>`
      update consolidations
      set status = ${status}::consolidation_status,
        error_message = coalesce(${message ?? null}, error_message),
        started_at = coalesce(started_at, now()),
        completed_at = now(),
        duration_seconds = round(extract(epoch from (now() - coalesce(started_at, now()))))::int,
        updated_at = now()
      where id = ${id}
        and status in ('pending', 'running')
      returning phases_completed
    `;
    if (ended && status !== 'completed' && !ended.phasesCompleted.includes('stats')) {
      await tx`
        update batches
        set consolidation_id = null
        where consolidation_id = ${id}
      `;
    }
  });
  return getConsolidationById(sql, id);
}

export interface ListConsolidations {
  status?: ConsolidationStatus | undefined;
  trigger?: TriggerType | undefined;
  limit: number;
  /** created_at key and id of the last row of the previous page. */
  after?: { createdAt: string; id: string } | undefined;
}

/** Newest first, keyset-paginated on (created_at, id). */
export async function listConsolidations(sql: Db, tenantId: string, q: ListConsolidations): Promise<ConsolidationRow[]> {
  return sql<ConsolidationRow[]>`
    select ${columns(sql)}
    from consolidations
    where tenant_id = ${tenantId}
      ${q.status ? sql`and status = ${q.status}::consolidation_status` : sql``}
      ${q.trigger ? sql`and trigger_type = ${q.trigger}::trigger_type` : sql``}
      ${q.after ? sql`and (created_at, id) < (${q.after.createdAt}::timestamptz, ${q.after.id}::uuid)` : sql``}
    order by created_at desc, id desc
    limit ${q.limit}
  `;
}

/** Removes a claim whose workflow could not be started (only while still pending). */
export async function deletePendingConsolidation(sql: Db, id: string): Promise<void> {
  await sql`
    delete from consolidations
    where id = ${id}
      and status = 'pending'
  `;
}
