/**
 * A consolidation row stays active (pending or running) until its workflow records how
 * it ended. A workflow that closes without doing so (an operator terminated it in the
 * UI, a run timeout) would leave its row holding the tenant's one active slot for good:
 * no manual, scheduled or threshold consolidation could start again, and the API would
 * show it running. So where an active row is met (a claim that found one, a read of
 * one) its workflow is looked up, and a row whose workflow has closed is ended
 * `failed`, saying why.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Sql } from '../db/client.js';
import { claimConsolidation, finishConsolidation, type ConsolidationRow, type NewConsolidation } from '../db/consolidations.js';
import type { Logger } from '../lib/logger.js';

/**
 * A claim's workflow is started right after the row is written (API) or by the claiming
 * workflow's next step; a pending row this old whose workflow is not its own never will.
 */
export const NEVER_STARTED_AFTER_MS = 60_000;

/** The row ended `failed` (and logged) when its workflow has closed without ending it; undefined when it is live (or not active). */
export async function releaseIfOrphaned(client: Client, sql: Sql, log: Logger, row: ConsolidationRow, now: Date = new Date()): Promise<ConsolidationRow | undefined> {
  if ((row.status !== 'pending' && row.status !== 'running') || !row.workflowId) return undefined;
  let run: { status: string; consolidationId: unknown } | undefined;
  try {
    const d = await client.workflow.getHandle(row.workflowId).describe();
    run = { status: d.status.name, consolidationId: d.memo?.consolidationId };
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  }
  let why: string;
  if (run?.consolidationId === row.id) {
    if (run.status === 'RUNNING') return undefined;
    why = `its workflow ${row.workflowId} closed (${run.status.toLowerCase()}) without recording an outcome, e.g. terminated by an operator`;
  } else {
    if (now.getTime() - row.createdAt.getTime() < NEVER_STARTED_AFTER_MS) return undefined;
    why = `its workflow never started (${row.workflowId} has no run for it)`;
  }
  const ended = await finishConsolidation(sql, row.id, 'failed', why);
  log.warn({ consolidationId: row.id, tenantId: row.tenantId, workflowId: row.workflowId, error: why }, 'consolidation row ended: its workflow had closed without ending it');
  return ended;
}

/**
 * claimConsolidation, but when the active row it meets is an orphan (`release` ends it:
 * releaseIfOrphaned, or a caller's wrapper of it), the claim is made again.
 */
export async function claimPastOrphan(
  sql: Sql,
  c: NewConsolidation,
  release: (row: ConsolidationRow) => Promise<ConsolidationRow | undefined>,
): Promise<{ row: ConsolidationRow; created: boolean }> {
  const first = await claimConsolidation(sql, c);
  if (first.created || !(await release(first.row))) return first;
  return claimConsolidation(sql, c);
}
