-- migrate:up
-- Per-tenant knobs for consolidation; a row exists only once a tenant sets something.
-- null means "off": no threshold trigger, no retention.
create table tenant_settings (
  tenant_id uuid primary key references tenants (id) on delete cascade,
  consolidation_threshold integer
    constraint tenant_settings_threshold_range check (consolidation_threshold between 1 and 1000000000),
  retention_days integer
    constraint tenant_settings_retention_range check (retention_days between 1 and 36500),
  updated_at timestamptz not null default now()
);

-- At most one consolidation in flight per tenant, whatever started it (API, schedule,
-- threshold): a second claim fails on this index and gets the active one instead.
create unique index consolidations_one_active_per_tenant_idx
  on consolidations (tenant_id)
  where status in ('pending', 'running');
create index consolidations_tenant_created_idx on consolidations (tenant_id, created_at desc, id desc);

-- A batch is consolidated as a whole (its jobs end before it does), so the mark lives
-- on the batch: one row written per batch, not per job, and the threshold count is a
-- sum of the batch counters.
alter table batches add column consolidation_id uuid references consolidations (id) on delete set null;
create index batches_unconsolidated_idx on batches (tenant_id, completed_at)
  where consolidation_id is null and status in ('completed', 'partial', 'failed', 'cancelled');
create index batches_consolidation_idx on batches (consolidation_id) where consolidation_id is not null;

-- Each consolidation's roll-up of its own batches, per job type and day. Percentiles
-- cannot be summed, so rows stay per consolidation; GET /v1/stats adds them up.
create table job_stats_daily (
  consolidation_id uuid not null references consolidations (id) on delete cascade,
  tenant_id uuid not null references tenants (id) on delete cascade,
  job_type text not null,
  day date not null,
  jobs integer not null,
  succeeded integer not null,
  failed integer not null,
  cancelled integer not null,
  retries integer not null,
  p50_ms double precision,
  p95_ms double precision,
  primary key (consolidation_id, job_type, day)
);
create index job_stats_daily_tenant_day_idx on job_stats_daily (tenant_id, day, job_type);

-- Near-duplicate groups found by the cluster phase. job_ids carries no foreign key:
-- retention may delete the jobs later, the grouping stays as a record.
create table document_clusters (
  consolidation_id uuid not null references consolidations (id) on delete cascade,
  cluster_no integer not null,
  job_ids uuid[] not null,
  primary key (consolidation_id, cluster_no)
);

-- The tenant-facing record of a Temporal Schedule (which holds the timing itself).
create table consolidation_schedules (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references tenants (id) on delete cascade,
  name text not null
    constraint consolidation_schedules_name_format check (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  schedule_id text not null unique,
  cron text not null,
  timezone text not null default 'UTC',
  scope jsonb not null default '{}',
  paused boolean not null default false,
  created_by uuid references api_keys (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint consolidation_schedules_tenant_name_key unique (tenant_id, name)
);

-- migrate:down
-- Forward-only: migrations are never rolled back.
