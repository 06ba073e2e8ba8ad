-- Job ownership, so several bot processes can share one database (issue 6): a process
-- resumes only the jobs it owns or has claimed, never another live process's work.
--   owner        the process (shard) running the job; NULL on rows written before this
--                step, which belong to nobody and may be claimed by any process
--   lease_until  until when the owner vouches for the job; the owner keeps moving it
--                forward while alive. Once it has passed, the owner is presumed dead
--                and exactly one other process may take the job over (a conditional
--                UPDATE on the owner it saw). Same ISO-UTC text as every timestamp.
-- Settling a job (complete/fail/cancel) leaves both as they were: the status alone says
-- the job is over, and the last owner is worth keeping for the log.
ALTER TABLE generations ADD COLUMN owner TEXT;
ALTER TABLE generations ADD COLUMN lease_until TEXT;

-- No new index: renewing, expiring and looking for expired leases all read in-flight
-- rows only, which generations_in_flight (0002, a partial index) already finds; claiming
-- is by primary key. In-flight rows are a handful per process at any moment.
