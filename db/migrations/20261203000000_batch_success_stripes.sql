-- migrate:up
-- Successes of per-activity jobs are counted here, spread over stripes of a batch,
-- rather than on the batch's row. Every job's end updated that one row, and each
-- update held its lock until its commit, so the ends of a batch's jobs queued behind
-- each other: 1.61 ms a job's end on average under W1 per activity, waiting for the
-- row. A batch's true succeeded count is its row's `succeeded_jobs` plus its stripes
-- (db/batch-counters.ts `succeededJobs`, which every read of the counters uses); a batch's end
-- folds the stripes into the row, which moves a count and never changes the sum.
-- Failures stay on the row: the failure tolerance needs the one write that crosses it
-- to see that it did. Chunks count a flush of many jobs at once and stay on the row.
create table batch_success_stripes (
  batch_id uuid not null references batches (id) on delete cascade,
  stripe smallint not null,
  succeeded integer not null,
  primary key (batch_id, stripe)
);

-- migrate:down
-- Forward-only: migrations are never rolled back.
