-- Images charged per guild per UTC day, kept by a trigger so the server-budget check is one
-- key lookup instead of summing every generation the guild made today (which grew with
-- the guild's activity and dominated the pre-defer check on busy servers).
--
-- `generations` stays the source of truth: the trigger fires inside the same statement
-- that changes a row, so the counter can never disagree with it, whichever code path
-- (reserve, complete, fail, cancel, release_orphans, a future purge) made the change.
-- A row's images belong to the UTC day it was reserved, exactly like the sums it
-- replaces. guild_id and created_at are never updated.

CREATE TABLE guild_daily_usage (
    guild_id BIGINT NOT NULL,
    day      DATE NOT NULL,            -- UTC
    images   BIGINT NOT NULL,          -- sum of reserved + delivered of that day's rows
    PRIMARY KEY (guild_id, day)
);

INSERT INTO guild_daily_usage (guild_id, day, images)
SELECT guild_id, (created_at AT TIME ZONE 'UTC')::date, SUM(reserved + delivered)
FROM generations
GROUP BY guild_id, (created_at AT TIME ZONE 'UTC')::date;

-- One function for the three events: the change in images of one row moves its day's total.
CREATE FUNCTION generations_track_daily_usage() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    delta BIGINT;
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE guild_daily_usage SET images = images - OLD.reserved - OLD.delivered
        WHERE guild_id = OLD.guild_id AND day = (OLD.created_at AT TIME ZONE 'UTC')::date;
        RETURN NULL;
    END IF;
    delta := NEW.reserved + NEW.delivered;
    IF TG_OP = 'UPDATE' THEN
        delta := delta - OLD.reserved - OLD.delivered;
    END IF;
    INSERT INTO guild_daily_usage AS counter (guild_id, day, images)
    VALUES (NEW.guild_id, (NEW.created_at AT TIME ZONE 'UTC')::date, delta)
    ON CONFLICT (guild_id, day) DO UPDATE SET images = counter.images + EXCLUDED.images;
    RETURN NULL;
END;
$$;

-- The WHEN clauses keep changes that move no charge (mark_running, for one) from touching
-- the counter row, which every reservation in the guild that day also updates.
CREATE TRIGGER generations_usage_insert AFTER INSERT ON generations
FOR EACH ROW WHEN (NEW.reserved + NEW.delivered > 0)
EXECUTE FUNCTION generations_track_daily_usage();

CREATE TRIGGER generations_usage_update AFTER UPDATE OF reserved, delivered ON generations
FOR EACH ROW WHEN (NEW.reserved + NEW.delivered <> OLD.reserved + OLD.delivered)
EXECUTE FUNCTION generations_track_daily_usage();

CREATE TRIGGER generations_usage_delete AFTER DELETE ON generations
FOR EACH ROW WHEN (OLD.reserved + OLD.delivered > 0)
EXECUTE FUNCTION generations_track_daily_usage();
