-- migrate:up
-- A hard per-tenant cap on jobs in flight across all of a tenant's batches. Null: the
-- worker's default (TENANT_MAX_JOBS_IN_FLIGHT) applies.
alter table tenant_settings
  add column max_jobs_in_flight integer
    constraint tenant_settings_max_jobs_in_flight_range check (max_jobs_in_flight > 0);

-- The tenant's slots in use: the sum of its live leases' slots, kept in the same
-- statement as every lease change. One row per tenant that ever ran a job; this row's
-- lock is what serialises concurrent acquires of one tenant.
create table tenant_slots (
  tenant_id uuid primary key references tenants (id) on delete cascade,
  used integer not null default 0
    constraint tenant_slots_used_nonnegative check (used >= 0)
);

-- Who holds the slots: one row per running chunk activity or job attempt. A holder
-- that dies stops renewing; its lease expires and the next acquire that finds the
-- tenant full gives the slots back.
create table tenant_slot_leases (
  tenant_id uuid not null references tenants (id) on delete cascade,
  holder text not null,
  slots integer not null
    constraint tenant_slot_leases_slots_positive check (slots > 0),
  expires_at timestamptz not null,
  primary key (tenant_id, holder)
);

-- migrate:down
-- Forward-only: migrations are never rolled back.
