/**
 * A chunk's lanes under its tenant's cap on jobs in flight (activities/tenant-cap.ts): one
 * lane per slot granted, none granted, nothing runs. The slots are asked for as the chunk
 * starts, while it takes its claim and reads its jobs, not after: a round trip each, 5–60
 * ms apiece under load, that a chunk's lanes waited for in turn. Lanes start as slots are
 * granted, at once and then on the chunk's liveness ticks while it is short; a chunk's
 * lanes finish within one job of each other, so its slots all go back at its end, in one
 * statement.
 */
import type { Info } from '@temporalio/activity';
import type { Sql } from '../db/client.js';
import type { Logger } from '../lib/logger.js';
import { holderOf, leaseTtlMs, slotLease } from './tenant-cap.js';

export interface ChunkSlots {
  /** The slots the first request got (0: the tenant is at its cap). */
  granted(): Promise<number>;
  /** For a chunk that stops before its lanes run: whatever the first request gets goes back. */
  abandon(): Promise<void>;
  /**
   * Runs `lane` once per slot held, up to `wanted` lanes (spare slots go back first), and
   * more as `topUp` is granted them; resolves once every lane has returned.
   * `left`: jobs not yet started; `stopped`: the chunk takes no more jobs.
   */
  runLanes(lane: (self: Lane) => Promise<void>, wanted: number, o: { left: () => number; stopped: () => boolean }): Promise<void>;
  /** The liveness tick: renews the lease and, while lanes run short, asks for more slots. */
  topUp(): Promise<void>;
  /** Every slot held goes back (a failed release lapses with the lease). */
  release(): Promise<void>;
}

export function chunkSlots(
  sql: Sql,
  o: { info: Info; tenantId: string; defaultCap: number; lanes: number; jobs: number; log: Logger; batchId: string },
): ChunkSlots {
  const lease = slotLease(sql, { tenantId: o.tenantId, holder: holderOf(o.info), ttlMs: leaseTtlMs(o.info), defaultCap: o.defaultCap });
  const granting = lease.acquire(Math.max(1, Math.min(o.lanes, o.jobs)));
  const release = () => lease.release().catch((err: unknown) => o.log.warn({ err, batchId: o.batchId }, 'tenant slots not released; they lapse with the lease'));
  let topUp = async () => {};
  return {
    granted: () => granting,
    async abandon() {
      // The release runs after the request on its way (a lease's operations queue).
      void granting.catch(() => {});
      await release();
    },
    async runLanes(lane, wanted, { left, stopped }) {
      // Fewer jobs to run than were asked for (a retried chunk): the extra slots go back.
      if (lease.held > wanted) {
        await lease.release(lease.held - wanted).catch((err: unknown) => o.log.warn({ err, batchId: o.batchId }, "spare tenant slots not released; they go back with the chunk's"));
      }
      let closed = false;
      const pool = lanePool(lane);
      topUp = async () => {
        await lease.renewSoon();
        const want = Math.min(wanted - pool.size, left());
        if (closed || stopped() || want <= 0) return;
        const more = await lease.acquire(want);
        if (!closed) pool.add(more);
      };
      pool.add(lease.held);
      try {
        await pool.drained();
      } finally {
        closed = true;
      }
    },
    topUp: () => topUp(),
    release,
  };
}

/** A running lane's handle on its pool. */
export interface Lane {
  /**
   * This lane stops counting as one (it waits on an attempt past its time that may
   * never end) and a new lane takes its place, and its slot, at once.
   */
  replace(): void;
}

/**
 * Lanes (async loops over a shared queue) that can be added while others run, e.g.
 * when more slots are granted, or replaced (Lane.replace). `drained` waits for every
 * lane, those added meanwhile too, but not for one replaced. A lane that throws fails
 * `drained` once the others are done.
 */
function lanePool(lane: (self: Lane) => Promise<void>) {
  let running = 0;
  let failure: { err: unknown } | undefined;
  let idle: (() => void) | undefined;
  const add = (n: number) => {
    for (let i = 0; i < n; i++) {
      running++;
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        if (--running === 0) idle?.();
      };
      lane({
        replace: () => {
          add(1);
          end();
        },
      }).then(end, (err: unknown) => {
        failure ??= { err };
        end();
      });
    }
  };
  return {
    get size() {
      return running;
    },
    add,
    async drained() {
      if (running > 0) await new Promise<void>((resolve) => (idle = resolve));
      if (failure) throw failure.err;
    },
  };
}
