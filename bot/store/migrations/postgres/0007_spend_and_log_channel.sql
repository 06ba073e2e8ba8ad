-- What moderators and owners oversee (issue 15): the spend and the moderation log channel.
--   cost_pico_usd   the estimated cost of the images delivered, in 10^-12 US dollars:
--                   width * height * delivered * price, the price being SIRAYA_PRICE_PER_MEGAPIXEL
--                   in micro-dollars per megapixel (so every cost is an exact integer and
--                   sums never drift). Set when the row settles; NULL when no price was set.
--   log_channel_id  where each generation of the server is also posted; NULL = no log.
ALTER TABLE generations ADD COLUMN cost_pico_usd BIGINT CHECK (cost_pico_usd >= 0);
ALTER TABLE guild_settings ADD COLUMN log_channel_id BIGINT;
