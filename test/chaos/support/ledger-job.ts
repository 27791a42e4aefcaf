/**
 * A test-only job type whose effect is a row in `chaos_ledger`, keyed by job and
 * attempt. `executions` counts how often one attempt's effect was applied: more than
 * one means an attempt ran twice without the engine knowing (an effect applied twice).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import type { Db } from '../../../db/client.js';
import { defineJobType, EXECUTION_MODES, type ExecutionMode } from '../../../job-types/job-type.js';

export type LedgerMode = ExecutionMode;
/** One ledger job type per execution mode: the chaos tests run in each. */
export const ledgerTypeName = (mode: LedgerMode) => (mode === 'activity' ? 'test.ledger' : `test.ledger.${mode}`);

export async function createLedger(sql: Db): Promise<void> {
  await sql`
    create table if not exists chaos_ledger (
      job_id uuid not null,
      attempt integer not null,
      executions integer not null default 1,
      primary key (job_id, attempt)
    )
  `;
}

export const ledgerJobTypes = (sql: Db) => EXECUTION_MODES.map((mode) => ledgerJobType(sql, mode));

export function ledgerJobType(sql: Db, mode: LedgerMode) {
  return defineJobType({
    name: ledgerTypeName(mode),
    description: `Writes one ledger row per job attempt (chaos tests, ${mode} mode).`,
    input: z.object({ ms: z.int().min(0).max(10_000) }).strict(),
    policy: {
      mode,
      maxRetries: 20,
      backoff: { initialIntervalMs: 200, coefficient: 2, maximumIntervalMs: 2_000 },
      timeoutMs: 30_000,
      heartbeatTimeoutMs: 4_000,
    },
    async handler(input, ctx) {
      if (input.ms > 0) await delay(input.ms, undefined, { signal: ctx.signal });
      await sql`
        insert into chaos_ledger (job_id, attempt)
        values (${ctx.jobId}, ${ctx.attempt})
        on conflict (job_id, attempt) do update
        set executions = chaos_ledger.executions + 1
      `;
      return { attempt: ctx.attempt };
    },
  });
}
