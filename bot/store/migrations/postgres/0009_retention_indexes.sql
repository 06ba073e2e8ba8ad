-- Pruning (issue 15) finds old rows by time across all guilds, in small batches: without
-- these indexes each batch would scan the whole table.
CREATE INDEX generations_created ON generations (created_at);
CREATE INDEX audit_log_at ON audit_log (at);
-- Deleting a generation sets its re-rolls' parent_id to NULL (ON DELETE SET NULL): the
-- database looks the children up by parent_id, a full scan per deleted row without this.
CREATE INDEX generations_parent ON generations (parent_id) WHERE parent_id IS NOT NULL;
