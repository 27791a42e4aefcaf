-- migrate:up
-- How a batch's jobs run: one Temporal activity per job, or many jobs per activity.
create type execution_mode as enum ('activity', 'chunk');
alter table batches add column mode execution_mode not null default 'activity';

-- migrate:down
-- Forward-only.
