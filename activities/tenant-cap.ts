/**
 * The activities' side of the per-tenant cap on jobs in flight: a lease of slots held
 * by one chunk or one job attempt (db/tenant-slots.ts), and the lanes of a chunk that
 * grow as more slots are granted.
 */
import type { Info } from '@temporalio/activity';
import type { Sql } from '../db/client.js';
import { acquireSlots, releaseSlots, renewLease, tenantOfJob } from '../db/tenant-slots.js';

/** One running activity (attempt) of one workflow run; `suffix` tells jobs within it apart. */
export function holderOf(info: Info, suffix?: string): string {
  const w = info.workflowExecution;
  return [w?.workflowId ?? '-', w?.runId ?? '-', info.activityId, info.attempt, ...(suffix ? [suffix] : [])].join('/');
}

/** A lease without heartbeats to follow outlives its holder's longest run by this much. */
const LEASE_MARGIN_MS = 60_000;

/**
 * Slots die with their holder: this long after the last renewal a dead holder's slots
 * are reclaimed. Holders renew while they run (see SlotLease.renewSoon), so the lease
 * follows the activity's own liveness: 3× its heartbeat timeout, after which Temporal
 * presumes it dead too.
 */
export function leaseTtlMs(info: Info): number {
  if (!info.isLocal && info.heartbeatTimeoutMs) return Math.max(3 * info.heartbeatTimeoutMs, 5_000);
  // Local activities do not heartbeat; their workflow task keeps them alive.
  if (info.isLocal) return 60_000;
  return (info.startToCloseTimeoutMs || 3_600_000) + LEASE_MARGIN_MS;
}

export interface SlotLease {
  /** Slots this holder has, as far as it knows. */
  readonly held: number;
  acquire(want: number): Promise<number>;
  /** Renews the lease at most every `ttlMs / 6`; cheap to call on every tick. */
  renewSoon(): Promise<void>;
  release(n?: number): Promise<void>;
}

/**
 * A holder's slots. Its operations run one after another: acquire, renew and release
 * of one holder never race each other. A slot whose release failed lapses with the lease.
 */
export function slotLease(sql: Sql, o: { tenantId: string; holder: string; ttlMs: number; defaultCap: number }): SlotLease {
  let held = 0;
  let lastRenew = Date.now();
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(op: () => Promise<T>): Promise<T> => {
    const p = chain.then(op);
    chain = p.catch(() => {});
    return p;
  };
  return {
    get held() {
      return held;
    },
    acquire: (want) =>
      serial(async () => {
        if (want <= 0) return 0;
        const granted = await acquireSlots(sql, { tenantId: o.tenantId, holder: o.holder, want, ttlMs: o.ttlMs, defaultCap: o.defaultCap });
        held += granted;
        if (granted > 0) lastRenew = Date.now();
        return granted;
      }),
    renewSoon: () =>
      serial(async () => {
        if (held === 0 || Date.now() - lastRenew < o.ttlMs / 6) return;
        lastRenew = Date.now();
        await renewLease(sql, o.tenantId, o.holder, o.ttlMs);
      }),
    release: (n) =>
      serial(async () => {
        if (held === 0) return;
        const count = n === undefined ? held : Math.min(n, held);
        held -= count;
        await releaseSlots(sql, o.tenantId, o.holder, n === undefined || held === 0 ? undefined : count);
      }),
  };
}

/**
 * One slot for one job attempt (one-activity-per-job mode), or undefined when the
 * tenant has none free. `tenantId` comes from the workflow; activities scheduled by a
 * workflow that did not pass it look it up. A job that is gone gets a slot-less lease:
 * the attempt then fails as it always did.
 */
export async function jobSlot(
  sql: Sql,
  info: Info,
  o: { jobId: string; tenantId?: string | undefined; defaultCap: number },
): Promise<SlotLease | undefined> {
  const tenantId = o.tenantId ?? (await tenantOfJob(sql, o.jobId));
  const lease = slotLease(sql, { tenantId: tenantId ?? '', holder: holderOf(info, o.jobId), ttlMs: leaseTtlMs(info), defaultCap: o.defaultCap });
  if (tenantId === undefined) return lease;
  return (await lease.acquire(1)) > 0 ? lease : undefined;
}

/**
 * Lanes (async loops over a shared queue) that can be added while others run, e.g.
 * when more slots are granted. `drained` waits for every lane, those added meanwhile too.
 */
export function lanePool(lane: () => Promise<void>) {
  const live = new Set<Promise<void>>();
  return {
    get size() {
      return live.size;
    },
    add(n: number) {
      for (let i = 0; i < n; i++) {
        const p: Promise<void> = lane().finally(() => live.delete(p));
        live.add(p);
      }
    },
    async drained() {
      while (live.size > 0) await Promise.all(live);
    },
  };
}
