"""What only PostgreSQL has to prove: migrations on a shared server, and exact quotas across
several processes on one database (issue 7). The behaviour both backends share is tested
through the parametrized ``store`` fixture in the other test modules.

Tests that need a server skip with a visible reason when TEST_POSTGRES_URL is unset; the
URL handling tests at the bottom run everywhere.
"""

from __future__ import annotations

import asyncio
import sys
import textwrap
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.store import (
    GenerationStatus,
    JobLimitReached,
    JobLimits,
    LimitSource,
    MigrationError,
    QuotaExceeded,
    Reservation,
    StoreConfigError,
    StoreError,
    open_store,
)
from bot.store.locks import advisory_key
from bot.store.migrate import POSTGRES_MIGRATIONS_DIR, Migration, load_migrations
from bot.store.pgurl import describe, is_postgres_url, normalise, scrub
from tests.core.conftest import (
    ALICE,
    BOB,
    CHANNEL,
    GUILD,
    MOD,
    NOON,
    fresh_schema,
    member,
    params,
    postgres_url,
)
from tests.extras import require_asyncpg

REAL = load_migrations(POSTGRES_MIGRATIONS_DIR)
LATEST = REAL[-1].version
DEFAULT = 5
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
async def schema() -> AsyncIterator[str]:
    async with fresh_schema(postgres_url()) as name:
        yield name


async def raw(schema: str) -> Any:
    """A plain asyncpg connection whose unqualified names resolve in ``schema``."""
    import asyncpg

    return await asyncpg.connect(
        postgres_url(), timeout=10, server_settings={"search_path": schema}
    )


async def open_pg(schema: str, **options: Any) -> Any:
    from bot.store.postgres import PostgresStore

    return await PostgresStore.open(postgres_url(), schema=schema, max_size=5, **options)


async def tables(schema: str) -> set[str]:
    conn = await raw(schema)
    try:
        rows = await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", schema
        )
    finally:
        await conn.close()
    return {row["table_name"] for row in rows}


def outcomes(results: list[Any]) -> tuple[list[Reservation], list[BaseException]]:
    granted = [r for r in results if isinstance(r, Reservation)]
    refused = [r for r in results if isinstance(r, BaseException)]
    return granted, refused


class TestMigrations:
    def test_same_step_numbers_and_names_as_sqlite(self) -> None:
        # A step means the same thing in both dialects; a future 0005 is added to both.
        sqlite = load_migrations()
        assert [(m.version, m.name) for m in REAL] == [(m.version, m.name) for m in sqlite]

    async def test_fresh_schema_gets_every_step_once_with_native_types(self, schema: str) -> None:
        store = await open_pg(schema)
        await store.close()
        again = await open_pg(schema)  # reopening applies nothing new
        await again.close()
        conn = await raw(schema)
        try:
            rows = await conn.fetch("SELECT version, name FROM schema_version ORDER BY version")
            types = {
                (r["table_name"], r["column_name"]): r["data_type"]
                for r in await conn.fetch(
                    "SELECT table_name, column_name, data_type FROM information_schema.columns"
                    " WHERE table_schema = $1",
                    schema,
                )
            }
        finally:
            await conn.close()
        assert [(r["version"], r["name"]) for r in rows] == [(m.version, m.name) for m in REAL]
        assert types[("generations", "user_id")] == "bigint"
        assert types[("generations", "created_at")] == "timestamp with time zone"
        assert types[("generations", "safety_checker")] == "boolean"
        assert types[("guild_settings", "nsfw_safety")] == "boolean"
        assert types[("guild_daily_usage", "day")] == "date"

    async def test_upgrade_from_0001_keeps_every_row(self, schema: str) -> None:
        from bot.store.migrate_postgres import apply_postgres_migrations

        conn = await raw(schema)
        try:
            assert await apply_postgres_migrations(conn, REAL, up_to=1) == [1]
            assert "audit_log" not in await tables(schema)
            await conn.execute(
                f"""
                INSERT INTO guild_settings (guild_id, default_limit, server_budget, nsfw_safety)
                    VALUES ({GUILD}, 7, 50, false);
                INSERT INTO member_limits VALUES ({GUILD}, {BOB}, 1);
                INSERT INTO role_limits VALUES ({GUILD}, 11, 9);
                INSERT INTO allowed_channels VALUES ({GUILD}, {CHANNEL});
                INSERT INTO blocked_words VALUES ({GUILD}, 'red wine');
                INSERT INTO generations (guild_id, channel_id, user_id, prompt, width, height,
                    size_preset, steps, guidance, acceleration, seed, safety_checker, count,
                    status, reserved, delivered, latency_ms, message_id, created_at, started_at,
                    finished_at)
                VALUES ({GUILD}, {CHANNEL}, {ALICE}, 'an old otter', 1024, 768, 'landscape_4_3',
                    28, 4.5, 'regular', 42, true, 4, 'succeeded', 0, 3, 5100, 555,
                    '2025-03-14T09:00:00Z', '2025-03-14T09:00:01Z', '2025-03-14T09:00:06Z');
                INSERT INTO generations (guild_id, channel_id, user_id, prompt, width, height,
                    size_preset, steps, guidance, acceleration, seed, safety_checker, count,
                    status, reserved, delivered, created_at)
                VALUES ({GUILD}, {CHANNEL}, {ALICE}, 'in flight when the old bot stopped', 512,
                    512, NULL, 20, 3.0, 'high', 7, false, 2, 'running', 2, 0,
                    '2025-03-14T11:00:00Z');
                """
            )
        finally:
            await conn.close()

        store = await open_pg(schema)
        try:
            check = await raw(schema)
            try:
                assert await check.fetchval("SELECT MAX(version) FROM schema_version") == LATEST
            finally:
                await check.close()
            old = await store.get_generation(1)
            assert old is not None
            assert old.params.prompt == "an old otter" and old.params.seed == 42
            assert (old.status, old.delivered, old.latency_ms, old.message_id) == (
                GenerationStatus.SUCCEEDED,
                3,
                5100,
                555,
            )
            assert old.created_at == datetime(2025, 3, 14, 9, tzinfo=UTC)
            assert old.interaction_token is None  # 0004's columns exist and are empty
            policy = await store.guild_policy(GUILD)
            assert (policy.default_limit, policy.server_budget, policy.nsfw_safety) == (
                7,
                50,
                False,
            )
            assert policy.member_limits == {BOB: 1} and policy.role_limits == {11: 9}
            assert policy.allowed_channel_ids == {CHANNEL}
            assert policy.blocked_words == ("red wine",)

            summary = await store.usage(member(ALICE), bot_default_limit=DEFAULT, now=NOON)
            assert (summary.limit.limit, summary.limit.source) == (7, LimitSource.SERVER_DEFAULT)
            assert summary.used == 5  # 3 delivered + 2 still held by the interrupted request
            assert summary.server_used == 5  # 0003 backfilled the counter from old rows
            assert await store.release_orphans(now=NOON) == 1
            after = await store.usage(member(ALICE), bot_default_limit=DEFAULT, now=NOON)
            assert (after.used, after.server_used) == (3, 3)

            assert await store.reset_member_usage(GUILD, ALICE, actor_id=MOD, now=NOON) == 3
            assert len(await store.audit_log(GUILD)) == 1
            fresh = await store.reserve(member(ALICE), params(2), bot_default_limit=5, now=NOON)
            assert fresh.generation_id == 3  # ids continue after the old rows
        finally:
            await store.close()

    async def test_failed_step_leaves_the_previous_version_intact(self, schema: str) -> None:
        import asyncpg

        from bot.store.migrate_postgres import apply_postgres_migrations, postgres_schema_version

        broken = Migration(
            2,
            "broken",
            "CREATE TABLE half_done (x INTEGER);\nINSERT INTO no_such_table VALUES (1);",
        )
        conn = await raw(schema)
        try:
            await apply_postgres_migrations(conn, REAL[:1])
            await conn.execute("INSERT INTO member_limits VALUES (1, 2, 3)")
            with pytest.raises(asyncpg.UndefinedTableError):
                await apply_postgres_migrations(conn, [REAL[0], broken])
            assert await postgres_schema_version(conn) == 1
            assert not conn.is_in_transaction()
            assert await conn.fetch("SELECT daily_limit FROM member_limits") == [(3,)]
        finally:
            await conn.close()
        assert "half_done" not in await tables(schema)

    async def test_edited_released_step_is_refused(self, schema: str) -> None:
        from bot.store.migrate_postgres import apply_postgres_migrations, postgres_schema_version

        conn = await raw(schema)
        try:
            await apply_postgres_migrations(conn, REAL[:1])
            edited = Migration(1, REAL[0].name, REAL[0].sql + "\nCREATE TABLE sneaky (x int);\n")
            with pytest.raises(MigrationError, match="edited"):
                await apply_postgres_migrations(conn, [edited, *REAL[1:]])
            assert await postgres_schema_version(conn) == 1
        finally:
            await conn.close()

    async def test_database_newer_than_the_bot_is_refused(self, schema: str) -> None:
        future = Migration(LATEST + 1, "from_the_future", "CREATE TABLE later (x int);")
        store = await open_pg(schema, migrations=[*REAL, future])
        await store.close()
        with pytest.raises(MigrationError, match="upgrade the bot"):
            await open_pg(schema)

    async def test_processes_starting_at_once_apply_each_step_once(self, schema: str) -> None:
        stores = await asyncio.gather(*(open_pg(schema) for _ in range(4)))
        for store in stores:
            await store.close()
        conn = await raw(schema)
        try:
            assert await conn.fetchval("SELECT COUNT(*) FROM schema_version") == LATEST
        finally:
            await conn.close()

    async def test_a_schema_that_does_not_exist_is_a_clear_error(self) -> None:
        postgres_url()
        with pytest.raises(MigrationError, match="does not exist"):
            await open_pg("t_no_such_schema_here")


class TestTwoProcessesOnOneDatabase:
    """Two stores = two pools = two processes' worth of connections to one schema."""

    async def test_100_requests_over_two_pools_for_the_last_5_images(self, schema: str) -> None:
        one, two = await open_pg(schema), await open_pg(schema)
        try:
            await one.set_default_limit(GUILD, 7, actor_id=MOD)
            first = await two.reserve(member(), params(2), bot_default_limit=DEFAULT, now=NOON)
            await one.complete(first.generation_id, delivered=2, latency_ms=10, now=NOON)

            results = await asyncio.gather(
                *(
                    s.reserve(member(), params(1), bot_default_limit=DEFAULT, now=NOON)
                    for s in (one, two) * 50
                ),
                return_exceptions=True,
            )
            granted, refused = outcomes(results)
            assert len(granted) == 5
            assert len(refused) == 95 and all(isinstance(e, QuotaExceeded) for e in refused)
            assert sorted(r.remaining_after for r in granted) == [0, 1, 2, 3, 4]
            for s in (one, two):
                summary = await s.usage(member(), bot_default_limit=DEFAULT, now=NOON)
                assert (summary.used, summary.server_used) == (7, 7)
        finally:
            await one.close()
            await two.close()

    async def test_server_budget_and_queue_limit_hold_across_pools(self, schema: str) -> None:
        one, two = await open_pg(schema), await open_pg(schema)
        try:
            await one.set_server_budget(GUILD, 3, actor_id=MOD)
            results = await asyncio.gather(
                *(
                    s.reserve(member(user), params(1), bot_default_limit=DEFAULT, now=NOON)
                    for user, s in enumerate((one, two) * 20)
                ),
                return_exceptions=True,
            )
            granted, refused = outcomes(results)
            assert len(granted) == 3
            assert all(isinstance(e, QuotaExceeded) and e.scope == "server" for e in refused)

            # The whole-queue limit counts every guild's jobs, so it holds across guilds too.
            limits = JobLimits(queue=5)  # 3 already in flight
            results = await asyncio.gather(
                *(
                    s.reserve(
                        member(user, guild_id=GUILD + 1 + user % 3),
                        params(1),
                        bot_default_limit=DEFAULT,
                        now=NOON,
                        job_limits=limits,
                    )
                    for user, s in enumerate((one, two) * 20)
                ),
                return_exceptions=True,
            )
            granted, refused = outcomes(results)
            assert len(granted) == 2
            assert all(isinstance(e, JobLimitReached) and e.scope == "queue" for e in refused)
            assert len(await two.in_flight()) == 5
        finally:
            await one.close()
            await two.close()

    async def test_delivery_is_claimed_by_exactly_one_process(self, schema: str) -> None:
        one, two = await open_pg(schema), await open_pg(schema)
        try:
            job = await one.reserve(member(), params(1), bot_default_limit=DEFAULT, now=NOON)
            claims = await asyncio.gather(
                *(s.begin_delivery(job.generation_id, now=NOON) for s in (one, two) * 10)
            )
            assert claims.count(True) == 1
        finally:
            await one.close()
            await two.close()

    async def test_a_guild_lock_held_elsewhere_delays_only_grants_in_that_guild(
        self, schema: str
    ) -> None:
        # Another process is mid-reservation in GUILD (it holds the guild's lock).
        store = await open_pg(schema)
        other = await raw(schema)
        try:
            await other.execute("BEGIN")
            guild_lock = advisory_key(store.schema, "quota", GUILD)
            await other.execute("SELECT pg_advisory_xact_lock($1)", guild_lock)
            waiting = asyncio.ensure_future(
                store.reserve(member(), params(1), bot_default_limit=DEFAULT, now=NOON)
            )
            elsewhere = await store.reserve(
                member(guild_id=GUILD + 1), params(1), bot_default_limit=DEFAULT, now=NOON
            )
            assert elsewhere.generation_id > 0  # another guild never waits
            await wait_for_lock_waiters(other, guild_lock, 1)
            assert not waiting.done()
            # A request that cannot fit is refused at once, without queueing for the lock.
            with pytest.raises(QuotaExceeded):
                await asyncio.wait_for(
                    store.reserve(member(BOB), params(9), bot_default_limit=DEFAULT, now=NOON), 5
                )
            assert not waiting.done()
            await other.execute("COMMIT")
            reservation = await asyncio.wait_for(waiting, 20)
            assert reservation.remaining_after == DEFAULT - 1
        finally:
            await other.close()
            await store.close()

    async def test_two_real_processes_never_exceed_the_limit(self, schema: str) -> None:
        """Issue 7's test at the storage level: two OS processes, one member, one database."""
        import asyncpg

        setup = await open_pg(schema)
        await setup.set_member_limit(GUILD, ALICE, 6, actor_id=MOD)
        await setup.close()
        gate = advisory_key("test-gate", schema)
        holder = await asyncpg.connect(postgres_url(), timeout=10)
        await holder.execute("SELECT pg_advisory_lock($1)", gate)
        children = [await spawn_reserver(schema, gate) for _ in range(2)]
        try:
            for child in children:  # both have their pools open and wait at the gate
                assert child.stdout is not None
                line = await asyncio.wait_for(child.stdout.readline(), 20)
                assert line.strip() == b"ready"
            await holder.execute("SELECT pg_advisory_unlock($1)", gate)
            outputs = [await asyncio.wait_for(child.communicate(), 30) for child in children]
        finally:
            for child in children:
                if child.returncode is None:
                    child.kill()
                    await child.wait()
            await holder.close()
        granted = [int(out.split()[-1]) for out, _ in outputs]
        assert all(child.returncode == 0 for child in children), outputs
        assert sum(granted) == 6, granted


async def wait_for_lock_waiters(conn: Any, key: int, count: int) -> None:
    """Until ``count`` sessions wait for advisory lock ``key`` (no event exists to await)."""
    unsigned = key & 0xFFFF_FFFF_FFFF_FFFF  # pg_locks splits a bigint key into two oids
    async with asyncio.timeout(20):
        while True:
            waiting = await conn.fetchval(
                "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                " AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 1",
                unsigned >> 32,
                unsigned & 0xFFFF_FFFF,
            )
            if waiting >= count:
                return
            await asyncio.sleep(0.01)


_RESERVER = textwrap.dedent(
    """
    import asyncio, sys
    import asyncpg
    from bot.store import GenerationParams, MemberContext, QuotaExceeded
    from bot.store.postgres import PostgresStore

    async def main(url, schema, gate):
        store = await PostgresStore.open(url, schema=schema, max_size=5)
        params = GenerationParams("otter", 512, 512, None, 4, 3.5, "none", 1, True, 1)
        who = MemberContext(guild_id={guild}, channel_id=1, user_id={user})
        conn = await asyncpg.connect(url, timeout=10)
        print("ready", flush=True)
        await conn.execute("SELECT pg_advisory_lock_shared($1)", gate)  # the parent's gate
        await conn.close()
        results = await asyncio.gather(
            *(store.reserve(who, params, bot_default_limit=1000) for _ in range(40)),
            return_exceptions=True,
        )
        await store.close()
        bad = [r for r in results if isinstance(r, BaseException)
               and not isinstance(r, QuotaExceeded)]
        if bad:
            raise bad[0]
        print("granted", sum(not isinstance(r, BaseException) for r in results), flush=True)

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
    """
).format(guild=GUILD, user=ALICE)


async def spawn_reserver(schema: str, gate: int) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _RESERVER,
        postgres_url(),
        schema,
        str(gate),
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


class TestOpenStore:
    async def test_postgres_urls_open_a_postgres_store(self, schema: str) -> None:
        from bot.store.postgres import PostgresStore

        base = postgres_url().replace("postgresql://", "postgres://", 1)
        separator = "&" if "?" in base else "?"
        store = await open_store(f"{base}{separator}search_path={schema}")
        try:
            assert isinstance(store, PostgresStore) and store.schema == schema
            await store.set_default_limit(GUILD, 3, actor_id=MOD)
        finally:
            await store.close()
        assert "guild_settings" in await tables(schema)

    async def test_unreachable_server_error_names_the_server_but_not_the_password(self) -> None:
        require_asyncpg()  # the error comes from the driver's own connection attempt
        # Port 1 on localhost: refused at once, no server or network needed.
        with pytest.raises(StoreError) as caught:
            await open_store("postgresql://bot:hunter2@127.0.0.1:1/imagine")
        message = str(caught.value)
        assert "hunter2" not in message
        assert "bot@127.0.0.1:1/imagine" in message

    async def test_missing_driver_says_which_extra_to_install(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setitem(sys.modules, "asyncpg", None)  # makes `import asyncpg` fail
        with pytest.raises(StoreConfigError) as caught:
            await open_store("postgresql://bot:hunter2@127.0.0.1:1/imagine")
        assert 'pip install "imagine-bot[postgres]"' in str(caught.value)
        assert "hunter2" not in str(caught.value)


class TestUrls:
    @pytest.mark.parametrize(
        "url",
        ["postgresql://h/db", "postgres://h/db", "POSTGRESQL://h/db", "postgresql+asyncpg://h/db"],
    )
    def test_postgres_schemes(self, url: str) -> None:
        assert is_postgres_url(url)
        assert normalise(url) == "postgresql://h/db"

    def test_sqlite_is_not_postgres(self) -> None:
        assert not is_postgres_url("sqlite:///data/bot.db")

    def test_describe_and_scrub_hide_the_password(self) -> None:
        url = "postgresql://bot:p%40ss@db.internal:6543/imagine?sslmode=require"
        assert describe(url) == "bot@db.internal:6543/imagine"
        assert scrub("auth failed for p%40ss / p@ss", url) == "auth failed for *** / ***"
        assert describe("postgresql://db.internal/imagine") == "db.internal:5432/imagine"

    def test_lock_keys_are_stable_signed_64_bit_and_distinct(self) -> None:
        key = advisory_key("public", "quota", GUILD)
        assert key == advisory_key("public", "quota", GUILD)
        assert -(2**63) <= key < 2**63
        assert key != advisory_key("public", "quota", GUILD + 1)
        assert key != advisory_key("other_schema", "quota", GUILD)
