-- Where a result went when it could not go into the acknowledgement (issue 10): after the
-- interaction token expired the result is posted as a new channel message, and its id is
-- recorded the moment Discord answers, before the charge. A process resuming after a crash
-- fetches exactly that message instead of searching the channel's recent history, so it
-- finds the result however busy the channel has been since.
--   posted_message_id  the channel message holding the result; NULL while it went (or
--                      goes) into the acknowledgement, whose id is message_id
ALTER TABLE generations ADD COLUMN posted_message_id INTEGER;
