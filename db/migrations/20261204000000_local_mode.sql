-- migrate:up
-- A third way to run a batch's jobs: one Temporal local activity per job (issue 3).
alter type execution_mode add value if not exists 'local';

-- migrate:down
-- Forward-only.
