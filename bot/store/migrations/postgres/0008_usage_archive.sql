-- Retention (issue 15): usage rows older than RETENTION_DAYS are deleted, but statistics
-- (/quota stats, its chart, top members) must not change when they are. Each pruning batch
-- folds the rows it deletes into this table in the same transaction, so at every instant
-- live rows + archived totals = everything that ever happened, and statistics read both.
-- One row per guild, UTC day and member: daily totals sum over members, top members over days.
CREATE TABLE usage_archive (
    guild_id      BIGINT NOT NULL,
    day           DATE NOT NULL,             -- UTC (the rows' created_at day)
    user_id       BIGINT NOT NULL,
    images        BIGINT NOT NULL,           -- reserved + delivered of the pruned rows
    generations   BIGINT NOT NULL,           -- how many rows (requests)
    failures      BIGINT NOT NULL,           -- of which status = 'failed'
    cost_pico_usd BIGINT NOT NULL,           -- sum of their cost_pico_usd (NULL counted as 0)
    PRIMARY KEY (guild_id, day, user_id)
);
