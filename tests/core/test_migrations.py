"""Schema upgrades keep every row; broken or edited steps stop the bot instead of guessing."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import aiosqlite
import pytest

from bot.store import GenerationStatus, LimitSource, SqliteStore
from bot.store.migrate import (
    Migration,
    MigrationError,
    apply_migrations,
    load_migrations,
    schema_version,
    split_statements,
)
from tests.core.conftest import ALICE, BOB, CHANNEL, GUILD, MOD, NOON, member, params

REAL = load_migrations()
LATEST = REAL[-1].version


async def raw(path: Path) -> aiosqlite.Connection:
    return await aiosqlite.connect(path, isolation_level=None)


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def test_shipped_migrations_are_numbered_from_one_without_gaps() -> None:
    assert [m.version for m in REAL] == list(range(1, len(REAL) + 1))
    assert LATEST >= 2  # the upgrade path below is only exercised with at least two steps


async def test_fresh_database_gets_every_step_once(db_path: Path) -> None:
    store = await SqliteStore.open(db_path)
    await store.close()
    again = await SqliteStore.open(db_path)  # reopening applies nothing new
    await again.close()
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute("SELECT version, name FROM schema_version ORDER BY version").fetchall()
    assert rows == [(m.version, m.name) for m in REAL]
    assert {"generations", "audit_log", "usage_resets", "guild_settings"} <= tables(db_path)


async def test_upgrade_from_0001_keeps_every_row(db_path: Path) -> None:
    conn = await raw(db_path)
    assert await apply_migrations(conn, REAL, up_to=1) == [1]
    assert "audit_log" not in tables(db_path)
    await conn.executescript(
        f"""
        INSERT INTO guild_settings (guild_id, default_limit, server_budget, nsfw_safety)
            VALUES ({GUILD}, 7, 50, 0);
        INSERT INTO member_limits VALUES ({GUILD}, {BOB}, 1);
        INSERT INTO role_limits VALUES ({GUILD}, 11, 9);
        INSERT INTO allowed_channels VALUES ({GUILD}, {CHANNEL});
        INSERT INTO blocked_words VALUES ({GUILD}, 'red wine');
        INSERT INTO generations (guild_id, channel_id, user_id, prompt, width, height,
            size_preset, steps, guidance, acceleration, seed, safety_checker, count, status,
            reserved, delivered, latency_ms, message_id, created_at, started_at, finished_at)
        VALUES ({GUILD}, {CHANNEL}, {ALICE}, 'an old otter', 1024, 768, 'landscape_4_3', 28,
            4.5, 'regular', 42, 1, 4, 'succeeded', 0, 3, 5100, 555,
            '2025-03-14T09:00:00.000000+00:00', '2025-03-14T09:00:01.000000+00:00',
            '2025-03-14T09:00:06.000000+00:00');
        INSERT INTO generations (guild_id, channel_id, user_id, prompt, width, height,
            size_preset, steps, guidance, acceleration, seed, safety_checker, count, status,
            reserved, delivered, created_at)
        VALUES ({GUILD}, {CHANNEL}, {ALICE}, 'in flight when the old bot stopped', 512, 512,
            NULL, 20, 3.0, 'high', 7, 0, 2, 'running', 2, 0, '2025-03-14T11:00:00.000000+00:00');
        """
    )
    await conn.close()

    store = await SqliteStore.open(db_path)
    try:
        with sqlite3.connect(db_path) as check:
            assert check.execute("SELECT MAX(version) FROM schema_version").fetchone() == (LATEST,)
        old = await store.get_generation(1)
        assert old is not None
        assert old.params.prompt == "an old otter" and old.params.seed == 42
        assert (old.status, old.delivered, old.latency_ms, old.message_id) == (
            GenerationStatus.SUCCEEDED,
            3,
            5100,
            555,
        )
        assert old.locale == "en-US", "before 0013 every public message was English"
        assert old.member_locale == "en-US", "and every private one"
        policy = await store.guild_policy(GUILD)
        assert (policy.default_limit, policy.server_budget, policy.nsfw_safety) == (7, 50, False)
        assert policy.language is None, "no language chosen: the server's own"
        assert policy.member_limits == {BOB: 1} and policy.role_limits == {11: 9}
        assert policy.allowed_channel_ids == {CHANNEL}
        assert policy.blocked_words == ("red wine",)

        summary = await store.usage(member(ALICE), bot_default_limit=5, now=NOON)
        assert (summary.limit.limit, summary.limit.source) == (7, LimitSource.SERVER_DEFAULT)
        assert summary.used == 5  # 3 delivered + 2 still held by the interrupted request
        assert summary.server_used == 5  # the per-day counter was backfilled from old rows
        assert await store.release_orphans(now=NOON) == 1
        after = await store.usage(member(ALICE), bot_default_limit=5, now=NOON)
        assert (after.used, after.server_used) == (3, 3)

        # The tables and indexes 0002 added work on the upgraded data.
        assert await store.reset_member_usage(GUILD, ALICE, actor_id=MOD, now=NOON) == 3
        assert len(await store.audit_log(GUILD)) == 1
        fresh = await store.reserve(member(ALICE), params(2), bot_default_limit=5, now=NOON)
        assert fresh.generation_id == 3  # ids continue after the old rows
    finally:
        await store.close()


async def test_failed_step_leaves_the_previous_version_intact(db_path: Path) -> None:
    broken = Migration(
        2,
        "broken",
        "CREATE TABLE half_done (x INTEGER);\nINSERT INTO no_such_table VALUES (1);\n",
    )
    conn = await raw(db_path)
    try:
        await apply_migrations(conn, REAL[:1])
        await conn.execute(
            "INSERT INTO member_limits (guild_id, user_id, daily_limit) VALUES (1, 2, 3)"
        )
        with pytest.raises(sqlite3.OperationalError):
            await apply_migrations(conn, [REAL[0], broken])
        assert await schema_version(conn) == 1
        assert not conn.in_transaction
    finally:
        await conn.close()
    assert "half_done" not in tables(db_path)
    with sqlite3.connect(db_path) as check:
        assert check.execute("SELECT daily_limit FROM member_limits").fetchall() == [(3,)]


async def test_edited_released_step_is_refused(db_path: Path) -> None:
    conn = await raw(db_path)
    try:
        await apply_migrations(conn, REAL[:1])
        edited = Migration(1, REAL[0].name, REAL[0].sql + "\nCREATE TABLE sneaky (x);\n")
        with pytest.raises(MigrationError, match="edited"):
            await apply_migrations(conn, [edited, *REAL[1:]])
        assert await schema_version(conn) == 1
    finally:
        await conn.close()


async def test_windows_line_endings_are_not_an_edit(db_path: Path) -> None:
    conn = await raw(db_path)
    try:
        await apply_migrations(conn, REAL[:1])
        crlf = Migration(1, REAL[0].name, REAL[0].sql.replace("\n", "\r\n"))
        assert await apply_migrations(conn, [crlf, *REAL[1:]]) == list(range(2, LATEST + 1))
    finally:
        await conn.close()


async def test_database_newer_than_the_bot_is_refused(db_path: Path) -> None:
    conn = await raw(db_path)
    try:
        future = Migration(LATEST + 1, "from_the_future", "CREATE TABLE later (x);")
        await apply_migrations(conn, [*REAL, future])
    finally:
        await conn.close()
    with pytest.raises(MigrationError, match="upgrade the bot"):
        await SqliteStore.open(db_path)


async def test_two_processes_opening_a_new_file_at_once(db_path: Path) -> None:
    stores = await asyncio.gather(SqliteStore.open(db_path), SqliteStore.open(db_path))
    for store in stores:
        await store.close()
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM schema_version").fetchone() == (LATEST,)


class TestLoading:
    def test_gap_in_numbering_is_refused(self, tmp_path: Path) -> None:
        (tmp_path / "0001_a.sql").write_text("CREATE TABLE a (x);")
        (tmp_path / "0003_c.sql").write_text("CREATE TABLE c (x);")
        with pytest.raises(MigrationError, match="gaps"):
            load_migrations(tmp_path)

    def test_badly_named_file_is_refused(self, tmp_path: Path) -> None:
        (tmp_path / "1_initial.sql").write_text("CREATE TABLE a (x);")
        with pytest.raises(MigrationError, match="named"):
            load_migrations(tmp_path)

    def test_statements_split_like_sqlite_does(self) -> None:
        script = """
        -- a comment; with a semicolon
        CREATE TABLE t (x TEXT DEFAULT 'a;b');
        CREATE TRIGGER trg AFTER INSERT ON t BEGIN
            UPDATE t SET x = 'c;d' WHERE rowid = new.rowid;
        END;
        INSERT INTO t VALUES (';'); INSERT INTO t VALUES ('e');
        -- trailing comment
        """
        statements = split_statements(script)
        assert len(statements) == 4
        assert statements[1].startswith("CREATE TRIGGER") and statements[1].endswith("END;")

    def test_unterminated_statement_is_refused(self) -> None:
        with pytest.raises(MigrationError, match="semicolon"):
            split_statements("CREATE TABLE a (x);\nCREATE TABLE b (y)")
