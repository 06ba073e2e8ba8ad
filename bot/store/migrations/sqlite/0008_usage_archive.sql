-- Retention (issue 15): usage rows older than RETENTION_DAYS are deleted, but statistics
-- (/quota stats, its chart, top members) must not change when they are. Each pruning batch
-- folds the rows it deletes into this table in the same transaction, so at every instant
-- live rows + archived totals = everything that ever happened, and statistics read both.
-- One row per guild, UTC day and member: daily totals sum over members, top members over days.
CREATE TABLE usage_archive (
    guild_id      INTEGER NOT NULL,
    day           TEXT NOT NULL,             -- 'YYYY-MM-DD', UTC (the rows' created_at day)
    user_id       INTEGER NOT NULL,
    images        INTEGER NOT NULL,          -- reserved + delivered of the pruned rows
    generations   INTEGER NOT NULL,          -- how many rows (requests)
    failures      INTEGER NOT NULL,          -- of which status = 'failed'
    cost_pico_usd INTEGER NOT NULL,          -- sum of their cost_pico_usd (NULL counted as 0)
    PRIMARY KEY (guild_id, day, user_id)
) WITHOUT ROWID;
