-- migrate:up
-- Failure tolerance (issue 4): at most one of a count or a percentage of the batch's
-- jobs; both null means any number of failures is tolerated (the batch ends partial).
alter table batches
  add column tolerated_failures integer
    constraint batches_tolerated_failures_range check (tolerated_failures >= 0),
  add column tolerated_failures_percent numeric(5, 2)
    constraint batches_tolerated_failures_percent_range check (tolerated_failures_percent between 0 and 100),
  add constraint batches_tolerance_one_form
    check (tolerated_failures is null or tolerated_failures_percent is null),
  -- Set while the batch's workflow holds dispatch. The status stays `running`: a paused
  -- batch is still a running one (no new batch_status value), the API shows `paused`.
  add column paused_at timestamptz,
  -- How often the failed jobs were sent round again (POST /v1/batches/:id/retry).
  add column redrives integer not null default 0;

-- A job's attempts accumulate over redrives; its retry budget starts again from here.
-- A constant default: no table rewrite on a large jobs table.
alter table jobs add column retry_base integer not null default 0;

-- Only failed jobs are grouped by error type (GET /v1/batches/:id's error summary, and
-- redrive by error type); a partial index stays as small as the failures.
create index jobs_failed_error_type_idx on jobs (batch_id, error_type) where status = 'failed';

-- Idempotency-Key on POST /v1/batches, per tenant. Written in the same transaction as
-- the batch; the primary key is what makes a concurrent duplicate lose.
create table idempotency_keys (
  tenant_id uuid not null references tenants (id) on delete cascade,
  key text not null
    constraint idempotency_keys_key_length check (length(key) between 1 and 255),
  -- SHA-256 of what was submitted (JSON body, or NDJSON bytes and options).
  request_hash bytea not null,
  batch_id uuid not null references batches (id) on delete cascade,
  created_at timestamptz not null default now(),
  primary key (tenant_id, key)
);
create index idempotency_keys_batch_idx on idempotency_keys (batch_id);

-- migrate:down
-- Forward-only: migrations are never rolled back.
