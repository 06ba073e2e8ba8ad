-- Moderator accountability and the queries behind /quota stats and the server budget.

-- Every moderator change: who, what, old and new value, when (shown by /quota view).
-- target_id is the member, role or channel the action is about (NULL for guild-wide
-- settings and words); values are text renderings, NULL meaning "not set".
CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id  INTEGER NOT NULL,
    actor_id  INTEGER NOT NULL,
    action    TEXT NOT NULL,
    target_id INTEGER,
    old_value TEXT,
    new_value TEXT,
    at        TEXT NOT NULL
);
CREATE INDEX audit_log_guild ON audit_log (guild_id, id);

-- `/quota reset member`: only generations with id > after_generation_id count toward
-- the member's quota. An id watermark, not a time, so a reset and a request in the
-- same microsecond still have an order. Only the latest reset per member matters.
CREATE TABLE usage_resets (
    guild_id            INTEGER NOT NULL,
    user_id             INTEGER NOT NULL,
    after_generation_id INTEGER NOT NULL,
    at                  TEXT NOT NULL,
    PRIMARY KEY (guild_id, user_id)
);

-- Server budget, daily totals and top members read a whole guild's day at a time.
CREATE INDEX generations_guild_day ON generations (guild_id, created_at);

-- release_orphans() looks only at in-flight rows, a tiny fraction of the log.
CREATE INDEX generations_in_flight ON generations (status) WHERE status IN ('queued', 'running');
