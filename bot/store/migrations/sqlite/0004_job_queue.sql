-- Jobs survive restarts (issue 6). A generations row already is the job; these columns
-- let a new process finish it through the member's interaction, and never twice.
--   interaction_token    the interaction's webhook token while the job is in flight
--                        (cleared when it settles: it is a credential, kept no longer
--                        than needed)
--   token_expires_at     when Discord stops accepting that token (15 min after the
--                        interaction); after it, results go to the channel instead
--   delivery_started_at  set once, just before the result is posted; a job that has it
--                        is never posted again (it may have reached the member already)
ALTER TABLE generations ADD COLUMN interaction_token TEXT;
ALTER TABLE generations ADD COLUMN token_expires_at TEXT;
ALTER TABLE generations ADD COLUMN delivery_started_at TEXT;

-- The queue itself is read through generations_in_flight (0002), a partial index.
