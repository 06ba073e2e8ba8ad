-- Images charged per guild per UTC day, kept by triggers so the server-budget check is one
-- key lookup instead of summing every generation the guild made today (which grew with
-- the guild's activity and dominated the pre-defer check on busy servers).
--
-- `generations` stays the source of truth: the triggers fire inside the same statement
-- that changes a row, so the counter can never disagree with it, whichever code path
-- (reserve, complete, fail, cancel, release_orphans, a future purge) made the change.
-- A row's images belong to the day it was reserved (substr(created_at, 1, 10)), exactly
-- like the sums it replaces. guild_id and created_at are never updated.

CREATE TABLE guild_daily_usage (
    guild_id INTEGER NOT NULL,
    day      TEXT NOT NULL,            -- 'YYYY-MM-DD', UTC
    images   INTEGER NOT NULL,         -- sum of reserved + delivered of that day's rows
    PRIMARY KEY (guild_id, day)
) WITHOUT ROWID;

INSERT INTO guild_daily_usage (guild_id, day, images)
SELECT guild_id, substr(created_at, 1, 10), SUM(reserved + delivered)
FROM generations
GROUP BY guild_id, substr(created_at, 1, 10);

CREATE TRIGGER generations_usage_insert AFTER INSERT ON generations
WHEN NEW.reserved + NEW.delivered > 0
BEGIN
    INSERT INTO guild_daily_usage (guild_id, day, images)
    VALUES (NEW.guild_id, substr(NEW.created_at, 1, 10), NEW.reserved + NEW.delivered)
    ON CONFLICT (guild_id, day) DO UPDATE SET images = images + excluded.images;
END;

CREATE TRIGGER generations_usage_update AFTER UPDATE OF reserved, delivered ON generations
WHEN NEW.reserved + NEW.delivered <> OLD.reserved + OLD.delivered
BEGIN
    INSERT INTO guild_daily_usage (guild_id, day, images)
    VALUES (NEW.guild_id, substr(NEW.created_at, 1, 10),
            NEW.reserved + NEW.delivered - OLD.reserved - OLD.delivered)
    ON CONFLICT (guild_id, day) DO UPDATE SET images = images + excluded.images;
END;

CREATE TRIGGER generations_usage_delete AFTER DELETE ON generations
WHEN OLD.reserved + OLD.delivered > 0
BEGIN
    UPDATE guild_daily_usage SET images = images - OLD.reserved - OLD.delivered
    WHERE guild_id = OLD.guild_id AND day = substr(OLD.created_at, 1, 10);
END;
