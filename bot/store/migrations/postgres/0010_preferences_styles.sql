-- The member's workspace (issue 13): their defaults for /imagine and the server's styles.
--
-- member_preferences: one row per member and scope. scope_id is the server (guild id) the
-- defaults apply in; 0 is reserved for the member's personal set (DMs and other personal
-- places), so personal use can arrive without a new key. NULL in a column = "not set":
-- /imagine's own default applies. Only what /imagine would accept is stored (checked by
-- the same validation before the write); a typed option always wins over these.
CREATE TABLE member_preferences (
    scope_id     BIGINT NOT NULL CHECK (scope_id >= 0),
    user_id      BIGINT NOT NULL,
    size_preset  TEXT,
    width        INTEGER,
    height       INTEGER,
    steps        INTEGER,
    guidance     DOUBLE PRECISION,
    acceleration TEXT,
    count        INTEGER,
    style        TEXT,
    updated_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (scope_id, user_id),
    CHECK ((width IS NULL) = (height IS NULL)),
    CHECK (size_preset IS NULL OR width IS NULL)
);

-- guild_styles: text a moderator names once and members add to their prompts.
--   name      as the moderator typed it (shown in lists, results and Info)
--   name_key  the name case-folded: one style per name whatever its case
CREATE TABLE guild_styles (
    guild_id   BIGINT NOT NULL,
    name_key   TEXT NOT NULL,
    name       TEXT NOT NULL,
    text       TEXT NOT NULL,
    created_by BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (guild_id, name_key)
);
