/**
 * The activities' side of the per-tenant cap on jobs in flight: a lease of slots held
 * by one chunk (db/tenant-slots.ts; a chunk's lanes over it are in chunk-slots.ts), and
 * the worker's pool of slots per tenant that its one-activity-per-job attempts draw from.
 */
import { randomUUID } from 'node:crypto';
import type { Info } from '@temporalio/activity';
import type { Sql } from '../db/client.js';
import { acquireSlots, releaseSlots, renewLease } from '../db/tenant-slots.js';
import { answered, isStatementTimeout } from './failures.js';

/** One running activity (attempt) of one workflow run. */
export function holderOf(info: Info): string {
  const w = info.workflowExecution;
  return [w?.workflowId ?? '-', w?.runId ?? '-', info.activityId, info.attempt].join('/');
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
 *
 * Each statement gives up after `statementTimeoutMs` (ATTEMPT_STATEMENT_TIMEOUT_MS by default):
 * operations wait on the one before them, so a statement that never answered (postgres.js
 * loses some when the server ends their connection) held every later one for good, and
 * with them every per-activity attempt of the tenant on that worker: the chaos test with
 * twenty backend terminations stalled so, every worker slot taken by an attempt waiting
 * for a slot. What such a statement did is unknown, so the lease goes on under a new
 * holder name with nothing held: the old name's slots, renewed no more, lapse with its
 * lease (until then they count against the cap, and a pool may hand out slots it leased
 * under the old name: the cap can be passed for one lease's time).
 */
export function slotLease(sql: Sql, o: { tenantId: string; holder: string; ttlMs: number; defaultCap: number; statementTimeoutMs?: number | undefined }): SlotLease {
  let held = 0;
  let lastRenew = Date.now();
  let holder = o.holder;
  let renamed = 0;
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(op: () => Promise<T>): Promise<T> => {
    const p = chain.then(op);
    chain = p.catch(() => {});
    return p;
  };
  const bounded = async <T>(statement: Promise<T>): Promise<T> => {
    try {
      return await answered(statement, o.statementTimeoutMs);
    } catch (err) {
      if (isStatementTimeout(err)) {
        holder = `${o.holder}#${++renamed}`;
        held = 0;
      }
      throw err;
    }
  };
  return {
    get held() {
      return held;
    },
    acquire: (want) =>
      serial(async () => {
        if (want <= 0) return 0;
        const granted = await bounded(acquireSlots(sql, { tenantId: o.tenantId, holder, want, ttlMs: o.ttlMs, defaultCap: o.defaultCap }));
        held += granted;
        if (granted > 0) lastRenew = Date.now();
        return granted;
      }),
    renewSoon: () =>
      serial(async () => {
        if (held === 0 || Date.now() - lastRenew < o.ttlMs / 6) return;
        lastRenew = Date.now();
        await bounded(renewLease(sql, o.tenantId, holder, o.ttlMs));
      }),
    release: (n) =>
      serial(async () => {
        if (held === 0) return;
        const count = n === undefined ? held : Math.min(n, held);
        held -= count;
        await bounded(releaseSlots(sql, o.tenantId, holder, n === undefined || held === 0 ? undefined : count));
      }),
  };
}

/** A pool's lease outlives a dead worker by this much at most: its slots then come back. */
const POOL_TTL_MS = 30_000;
/**
 * A pool gives its unused slots back this often, and the slots in use then once they
 * are given back (and asks again when attempts want more): another holder's demand, or
 * a lowered cap, is seen within two of these.
 */
const POOL_TICK_MS = 100;
/** The most slots a pool asks for at once. */
const POOL_BLOCK = 16;

/**
 * The worker's slots for one tenant's per-activity attempts. An attempt takes a slot
 * from the pool and gives it back to the pool; the pool leases slots from PostgreSQL in
 * blocks and gives every slot back within two POOL_TICK_MS. Per attempt, one slot as
 * before (the pool never hands out more than it leased, and the tenant's leases never
 * pass the cap), but no statement of its own: the tenant's counter row, locked by every
 * lease change, took two locks a job when each attempt leased its own slot, and that
 * row's lock was the biggest cost of per-activity mode (W1 at 5,000 jobs: 264–283 jobs/s
 * with them, 354–360 with none).
 */
export interface SlotPool {
  /** A slot for one attempt: true when taken; false when the tenant has none free (nothing held). */
  take(): Promise<boolean>;
  /** Gives a taken slot back to the pool. */
  give(): void;
  /** Slots leased now, in use now. */
  readonly leased: number;
  readonly inUse: number;
  /** Gives every slot back now (the worker is stopping, its attempts have ended). */
  close(): Promise<void>;
}

/** Every pool of this process, for closeSlotPools. */
const openPools = new Set<SlotPool>();

/**
 * Gives back the slots of every pool of this process: for a worker that stops once its
 * attempts have ended, so that a tenant at its cap does not wait out the pool's lease.
 */
export async function closeSlotPools(): Promise<void> {
  await Promise.all([...openPools].map((pool) => pool.close()));
}

/** `tickMs`: POOL_TICK_MS unless a test sets its own. */
export function slotPool(sql: Sql, o: { tenantId: string; defaultCap: number; holder?: string; tickMs?: number; statementTimeoutMs?: number }): SlotPool {
  const lease = slotLease(sql, { tenantId: o.tenantId, holder: o.holder ?? `pool/${randomUUID()}`, ttlMs: POOL_TTL_MS, defaultCap: o.defaultCap, statementTimeoutMs: o.statementTimeoutMs });
  /** Slots the pool may hand out: granted, and not yet sent back (the lease's own count drops later, when its statement runs). */
  let leased = 0;
  let inUse = 0;
  let waiting = 0;
  /** Slots in use at the last tick: given back, they go to the tenant, not to the next attempt. */
  let retiring = 0;
  let retired = 0;
  const free = () => leased - retired - inUse;
  /** The lease request on its way, and how many it granted. */
  let asking: Promise<number> | undefined;
  let ticker: NodeJS.Timeout | undefined;
  // Every slot goes back to the tenant within two ticks of its last use as of a tick, and a
  // slot taken after that is leased again, under the cap then in force: so a pool under
  // steady demand sees a lowered cap, or other holders' share of it, as an idle one does.
  const tick = () => {
    void lease.renewSoon().catch(() => {});
    if (asking === undefined) {
      const back = free() + retired;
      if (back > 0) {
        leased -= back;
        retired = 0;
        void lease.release(back).catch(() => {});
      }
      retiring = inUse;
    }
    if (leased === 0 && lease.held === 0 && ticker) {
      clearInterval(ticker);
      ticker = undefined;
    }
  };
  const pool: SlotPool = {
    get leased() {
      return leased;
    },
    get inUse() {
      return inUse;
    },
    async take() {
      waiting++;
      try {
        for (;;) {
          if (free() > 0) {
            inUse++;
            return true;
          }
          if (asking) {
            // Another take is asking for a block: its answer is this one's too.
            if ((await asking) === 0 && free() <= 0) return false;
            continue;
          }
          asking = lease
            .acquire(Math.min(POOL_BLOCK, waiting))
            .then((granted) => {
              leased += granted;
              return granted;
            })
            .finally(() => (asking = undefined));
          ticker ??= setInterval(tick, o.tickMs ?? POOL_TICK_MS).unref();
          if ((await asking) === 0 && free() <= 0) return false;
        }
      } finally {
        waiting--;
      }
    },
    give() {
      if (inUse === 0) return;
      inUse--;
      if (retiring > 0) {
        retiring--;
        retired++;
      }
    },
    async close() {
      await asking?.catch(() => {});
      if (ticker) clearInterval(ticker);
      ticker = undefined;
      leased = 0;
      retired = 0;
      openPools.delete(pool);
      await lease.release();
    },
  };
  openPools.add(pool);
  return pool;
}

/** The worker's pools, one per tenant, for as long as the worker runs. */
export function slotPools(sql: Sql, defaultCap: number) {
  const pools = new Map<string, SlotPool>();
  return (tenantId: string): SlotPool => {
    let pool = pools.get(tenantId);
    if (!pool) pools.set(tenantId, (pool = slotPool(sql, { tenantId, defaultCap })));
    return pool;
  };
}
