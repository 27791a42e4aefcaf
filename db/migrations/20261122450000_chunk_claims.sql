-- migrate:up
-- Chunked execution runs many jobs in one activity and records their outcomes in
-- bulk, so a job's attempt is written after it ran. Before a chunk starts a job, its
-- claim here covers that job's position (claimed a window at a time: one small write
-- per window, not per job). A chunk that runs again (its worker died, it timed out, a
-- local activity re-run after a failed workflow task) takes the claim over and counts
-- a lost attempt for every claimed job without a recorded outcome, so no attempt ever
-- runs twice under the same number. The try that holds the claim (`owner`) is the
-- only one whose outcomes are written: an older try that still runs is fenced off.
create table chunk_claims (
  batch_id uuid not null references batches (id) on delete cascade,
  -- The chunk activity: workflow id / run id / activity id (the same on every try).
  chunk text not null,
  owner uuid not null,
  -- Jobs of this chunk at positions up to here may have been started.
  through_seq integer not null,
  updated_at timestamptz not null default now(),
  primary key (batch_id, chunk)
);

-- migrate:down
-- Forward-only: migrations are never rolled back.
