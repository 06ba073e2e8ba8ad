-- How a job's result may reach the member (issue 12), stored with the reservation so a
-- process resuming after a restart delivers it the same way:
--   'channel'      public; the bot may post in the channel once the interaction token
--                  has expired (a server channel, the bot's own DM)
--   'interaction'  public, but the bot is no member of the place (a group DM, a server
--                  where only the member installed the app): only the interaction reaches it
--   'private'      ephemeral: the acknowledgement and the result are the member's alone,
--                  never posted in the channel
ALTER TABLE generations ADD COLUMN reach TEXT NOT NULL DEFAULT 'channel';
