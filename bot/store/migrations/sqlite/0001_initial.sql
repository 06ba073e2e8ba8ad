-- imagine-bot schema, SQLite dialect. Released files are never edited: add a new step.
--
-- Conventions
--   * Discord snowflakes are INTEGER (SQLite integers are 64-bit).
--   * Timestamps are TEXT, ISO 8601 in UTC with microseconds, always the same width
--     ('2025-01-31T23:59:59.123456+00:00'), so comparing text compares time and a
--     UTC day is a half-open text range.
--   * Booleans are INTEGER 0/1. NULL in a setting means "not set, fall back".

-- One row per guild that changed a setting; absent row = all defaults.
CREATE TABLE guild_settings (
    guild_id      INTEGER PRIMARY KEY,
    default_limit INTEGER CHECK (default_limit >= 0),
    server_budget INTEGER CHECK (server_budget >= 0),
    nsfw_safety   INTEGER CHECK (nsfw_safety IN (0, 1))
);

CREATE TABLE member_limits (
    guild_id    INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    daily_limit INTEGER NOT NULL CHECK (daily_limit >= 0),
    PRIMARY KEY (guild_id, user_id)
);

CREATE TABLE role_limits (
    guild_id    INTEGER NOT NULL,
    role_id     INTEGER NOT NULL,
    daily_limit INTEGER NOT NULL CHECK (daily_limit >= 0),
    PRIMARY KEY (guild_id, role_id)
);

CREATE TABLE allowed_channels (
    guild_id   INTEGER NOT NULL,
    channel_id INTEGER NOT NULL,
    PRIMARY KEY (guild_id, channel_id)
);

-- word is stored normalised (bot.policy.rules.normalize_blocked_word).
CREATE TABLE blocked_words (
    guild_id INTEGER NOT NULL,
    word     TEXT NOT NULL,
    PRIMARY KEY (guild_id, word)
);

-- One row per /imagine request: it is the quota reservation while in flight and the
-- usage-log row afterwards. An in-flight row holds `reserved` = `count` images; a
-- finished row holds none and has `delivered` charged. So the images a row costs
-- today are always reserved + delivered, and a refund is simply reserved -> 0.
-- AUTOINCREMENT keeps ids strictly increasing (never reused), which usage resets rely on.
CREATE TABLE generations (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    parent_id      INTEGER REFERENCES generations (id) ON DELETE SET NULL,
    guild_id       INTEGER NOT NULL,
    channel_id     INTEGER NOT NULL,
    user_id        INTEGER NOT NULL,
    prompt         TEXT NOT NULL,
    width          INTEGER NOT NULL,
    height         INTEGER NOT NULL,
    size_preset    TEXT,
    steps          INTEGER NOT NULL,
    guidance       REAL NOT NULL,
    acceleration   TEXT NOT NULL,
    seed           INTEGER NOT NULL,
    safety_checker INTEGER NOT NULL CHECK (safety_checker IN (0, 1)),
    count          INTEGER NOT NULL CHECK (count >= 1),
    status         TEXT NOT NULL
                   CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    reserved       INTEGER NOT NULL,
    delivered      INTEGER NOT NULL DEFAULT 0 CHECK (delivered >= 0 AND delivered <= count),
    error_class    TEXT,
    latency_ms     INTEGER,
    message_id     INTEGER,
    created_at     TEXT NOT NULL,
    started_at     TEXT,
    finished_at    TEXT,
    CHECK (CASE WHEN status IN ('queued', 'running')
                THEN reserved = count AND delivered = 0
                ELSE reserved = 0 END)
);

-- The pre-defer check sums one member's rows for one UTC day.
CREATE INDEX generations_member_day ON generations (guild_id, user_id, created_at);
