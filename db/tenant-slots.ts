/**
 * The per-tenant cap on jobs in flight, as leased slots. `tenant_slots.used` is the sum
 * of the tenant's leases' slots: every statement here that changes a lease changes
 * `used` by the same amount, so the two never drift. Every statement that changes
 * `used` first locks the tenant's counter row (and only then a lease row), so they
 * serialise per tenant in one lock order and cannot deadlock each other.
 */
import type { Db } from './client.js';

export interface AcquireArgs {
  tenantId: string;
  /** Unique per running chunk or job attempt; a holder's slots add up. */
  holder: string;
  want: number;
  /** The lease (all of the holder's slots) lapses this long after the last acquire or renewal. */
  ttlMs: number;
  /** The cap of a tenant without its own `max_jobs_in_flight`. */
  defaultCap: number;
}

/**
 * Takes up to `want` slots for `holder`: least(want, cap - used), 0 when the tenant is
 * at (or above, after its cap was lowered) its cap. One statement: the counter row is
 * locked first (`for update` waits for a concurrent acquire and sees its result), the
 * counter and the lease change together. When nothing is granted, expired leases (of
 * dead workers) are reclaimed and the acquire is tried once more.
 */
export async function acquireSlots(sql: Db, args: AcquireArgs): Promise<number> {
  const first = await tryAcquire(sql, args);
  if (first === undefined) {
    // The tenant's first slot ever: create its counter (no slots change here), then acquire.
    await sql`
      insert into tenant_slots (tenant_id)
      values (${args.tenantId})
      on conflict (tenant_id) do nothing
    `;
    return (await tryAcquire(sql, args)) ?? 0;
  }
  if (first > 0) return first;
  if ((await reclaimExpired(sql, args.tenantId)) === 0) return 0;
  return (await tryAcquire(sql, args)) ?? 0;
}

/** Undefined when the tenant has no counter row yet. */
async function tryAcquire(sql: Db, a: AcquireArgs): Promise<number | undefined> {
  const [row] = await sql<{ granted: number | null }[]>`
    with locked as (
      select used
      from tenant_slots
      where tenant_id = ${a.tenantId}
      for update
    ),
    cap as (
      select coalesce(
        (select max_jobs_in_flight from tenant_settings where tenant_id = ${a.tenantId}),
        ${a.defaultCap}::int
      ) as n
    ),
    grant_ as (
      select least(${a.want}::int, greatest(0, cap.n - locked.used)) as granted
      from locked, cap
    ),
    counter as (
      update tenant_slots s
      set used = s.used + g.granted
      from grant_ g
      where s.tenant_id = ${a.tenantId}
        and g.granted > 0
      returning g.granted
    ),
    lease as (
      insert into tenant_slot_leases as l (tenant_id, holder, slots, expires_at)
      select ${a.tenantId}, ${a.holder}, c.granted, now() + make_interval(secs => ${a.ttlMs / 1000})
      from counter c
      on conflict (tenant_id, holder) do update
      set slots = l.slots + excluded.slots,
        expires_at = excluded.expires_at
      returning l.slots
    )
    select granted
    from grant_
  `;
  return row?.granted ?? undefined;
}

/** Pushes the holder's lease expiry out; false when it has no lease (released, or reclaimed after it lapsed). */
export async function renewLease(sql: Db, tenantId: string, holder: string, ttlMs: number): Promise<boolean> {
  const rows = await sql`
    update tenant_slot_leases
    set expires_at = now() + make_interval(secs => ${ttlMs / 1000})
    where tenant_id = ${tenantId}
      and holder = ${holder}
    returning holder
  `;
  return rows.length > 0;
}

/**
 * Gives back `n` of the holder's slots (all of them when `n` is omitted or covers the
 * lease, which is then deleted). Idempotent: an unknown holder changes nothing.
 * Returns the slots given back.
 */
export async function releaseSlots(sql: Db, tenantId: string, holder: string, n?: number): Promise<number> {
  const [row] = await sql<{ released: number }[]>`
    with locked as (
      select used
      from tenant_slots
      where tenant_id = ${tenantId}
      for update
    ),
    lease as (
      select l.slots, least(l.slots, ${n ?? null}::int) as n
      from tenant_slot_leases l, locked
      where l.tenant_id = ${tenantId}
        and l.holder = ${holder}
      for update of l
    ),
    shrunk as (
      update tenant_slot_leases l
      set slots = l.slots - x.n
      from lease x
      where l.tenant_id = ${tenantId}
        and l.holder = ${holder}
        and x.n is not null
        and x.n < x.slots
      returning x.n as released
    ),
    gone as (
      delete from tenant_slot_leases l
      using lease x
      where l.tenant_id = ${tenantId}
        and l.holder = ${holder}
        and (x.n is null or x.n >= x.slots)
      returning l.slots as released
    ),
    released as (
      select released from shrunk
      union all
      select released from gone
    ),
    counter as (
      update tenant_slots s
      set used = s.used - r.released
      from released r
      where s.tenant_id = ${tenantId}
      returning r.released
    )
    select coalesce(sum(released), 0)::int as released
    from counter
  `;
  return row?.released ?? 0;
}

/** Deletes the tenant's lapsed leases and gives their slots back; returns how many. */
export async function reclaimExpired(sql: Db, tenantId: string): Promise<number> {
  const [row] = await sql<{ reclaimed: number }[]>`
    with locked as (
      select used
      from tenant_slots
      where tenant_id = ${tenantId}
      for update
    ),
    gone as (
      delete from tenant_slot_leases l
      using locked
      where l.tenant_id = ${tenantId}
        and l.expires_at < now()
      returning l.slots
    ),
    total as (
      select coalesce(sum(slots), 0)::int as n
      from gone
    ),
    counter as (
      update tenant_slots s
      set used = s.used - t.n
      from total t
      where s.tenant_id = ${tenantId}
        and t.n > 0
      returning t.n
    )
    select coalesce((select n from counter), 0) as reclaimed
  `;
  return row?.reclaimed ?? 0;
}

/** The tenant's slots in use and its own cap (null: the default applies). */
export async function getSlotState(sql: Db, tenantId: string): Promise<{ used: number; maxJobsInFlight: number | null }> {
  const [row] = await sql<{ used: number; maxJobsInFlight: number | null }[]>`
    select coalesce((select used from tenant_slots where tenant_id = ${tenantId}), 0) as used,
      (select max_jobs_in_flight from tenant_settings where tenant_id = ${tenantId}) as max_jobs_in_flight
  `;
  return row ?? { used: 0, maxJobsInFlight: null };
}

/** The tenant whose batch holds this job; undefined when the job is gone. */
export async function tenantOfJob(sql: Db, jobId: string): Promise<string | undefined> {
  const [row] = await sql<{ tenantId: string }[]>`
    select b.tenant_id
    from jobs j
    join batches b on b.id = j.batch_id
    where j.id = ${jobId}
  `;
  return row?.tenantId;
}
