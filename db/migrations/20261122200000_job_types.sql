-- migrate:up
-- Hosts (lowercase names or IP literals, no port) that http.request may reach even
-- when they resolve to loopback, private or link-local addresses. Set by operators.
alter table tenant_settings add column http_allow_hosts text[] not null default '{}';

-- Near-duplicate analysis of a document.analyze batch, written once when it ends
-- (rewritten whole if the activity runs again).
create table batch_similarity (
  batch_id uuid primary key references batches (id) on delete cascade,
  method text not null
    constraint batch_similarity_method check (method in ('exact', 'lsh')),
  summary jsonb not null,
  computed_at timestamptz not null default now()
);

-- One row per cluster of near-duplicates (two documents or more), numbered from 0
-- by size, largest first.
create table batch_clusters (
  batch_id uuid not null references batch_similarity (batch_id) on delete cascade,
  cluster_no integer not null,
  size integer not null
    constraint batch_clusters_size check (size >= 2),
  mean_similarity double precision not null,
  -- [{ jobId, index, id }] in job order.
  members jsonb not null,
  primary key (batch_id, cluster_no)
);

-- migrate:down
-- Forward-only: migrations are never rolled back.
