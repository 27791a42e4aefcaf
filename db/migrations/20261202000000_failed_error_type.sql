-- migrate:up
-- A job's first failed attempt that will be retried was not a heap-only update: it set
-- `error_type`, which jobs_error_type_idx indexes, so the row's new version took an
-- entry in each of the table's three indexes. A batch whose jobs each fail once (a
-- dependency down for a while) paid that for every job; W3 for its 10,000 first failures.
-- What the index is read for, the error summary of a batch and a redrive by error
-- type, is about jobs that have ended failed. So it now holds exactly those, by a stored
-- generated column that is the error type of a failed job and null otherwise: an update
-- that leaves it null (a retried failure, a success) changes no indexed column and can
-- stay on its page. Adding the column rewrites the table once (new pages keep the 40%
-- fill factor).
alter table jobs
  add column failed_error_type text generated always as (case when status = 'failed' then error_type end) stored;
drop index jobs_error_type_idx;
create index jobs_failed_error_type_idx on jobs (batch_id, failed_error_type) where failed_error_type is not null;

-- migrate:down
-- Forward-only: migrations are never rolled back.
