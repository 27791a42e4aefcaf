-- migrate:up
create type batch_status as enum ('pending', 'running', 'completed', 'partial', 'failed', 'cancelled');
create type job_status as enum ('pending', 'running', 'succeeded', 'failed', 'cancelled');
create type consolidation_status as enum ('pending', 'running', 'completed', 'failed', 'cancelled');
create type trigger_type as enum ('scheduled', 'manual', 'threshold');

create table tenants (
  id uuid primary key default gen_random_uuid(),
  name text not null unique
    constraint tenants_name_format check (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  created_at timestamptz not null default now()
);

-- Keys are random and high-entropy; only their SHA-256 is stored. The prefix
-- identifies a key in logs and listings without revealing it.
create table api_keys (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references tenants (id) on delete cascade,
  name text not null default 'default',
  prefix text not null unique,
  key_hash bytea not null unique,
  created_at timestamptz not null default now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);
create index api_keys_tenant_id_idx on api_keys (tenant_id);

create table batches (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references tenants (id) on delete cascade,
  created_by uuid references api_keys (id) on delete set null,
  job_type text not null,
  status batch_status not null default 'pending',
  concurrency integer not null
    constraint batches_concurrency_range check (concurrency between 1 and 1000),
  max_retries integer not null
    constraint batches_max_retries_range check (max_retries between 0 and 100),
  retry_initial_interval_ms integer not null,
  retry_backoff_coefficient double precision not null,
  retry_maximum_interval_ms integer not null,
  -- Counters change in the same statement as the job rows they count.
  total_jobs integer not null,
  succeeded_jobs integer not null default 0,
  failed_jobs integer not null default 0,
  cancelled_jobs integer not null default 0,
  workflow_id text not null unique,
  created_at timestamptz not null default now(),
  started_at timestamptz,
  completed_at timestamptz,
  constraint batches_counters_bounded
    check (succeeded_jobs >= 0 and failed_jobs >= 0 and cancelled_jobs >= 0
      and succeeded_jobs + failed_jobs + cancelled_jobs <= total_jobs)
);
create index batches_tenant_created_idx on batches (tenant_id, created_at desc, id desc);
create index batches_tenant_status_idx on batches (tenant_id, status);

create table jobs (
  id uuid primary key default gen_random_uuid(),
  batch_id uuid not null references batches (id) on delete cascade,
  seq integer not null,
  status job_status not null default 'pending',
  input jsonb not null,
  output jsonb,
  attempts integer not null default 0,
  error_type text,
  error_message text,
  started_at timestamptz,
  completed_at timestamptz,
  updated_at timestamptz not null default now(),
  constraint jobs_batch_seq_key unique (batch_id, seq)
);

create table consolidations (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references tenants (id) on delete cascade,
  status consolidation_status not null default 'pending',
  trigger_type trigger_type not null,
  triggered_by text not null,
  scope jsonb not null default '{}',
  phases_completed text[] not null default '{}',
  metrics jsonb not null default '{}',
  workflow_id text,
  started_at timestamptz,
  completed_at timestamptz,
  duration_seconds integer,
  error_message text,
  retry_count integer not null default 0,
  max_retries integer not null default 3,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index consolidations_tenant_status_idx on consolidations (tenant_id, status);
create index consolidations_created_at_idx on consolidations (created_at);

-- migrate:down
-- Forward-only: migrations are never rolled back.
