"""Job leases: several processes on one database resume each in-flight job exactly once.

Every test runs on SQLite and PostgreSQL (the ``store``/``backend`` fixtures). A second
store opened on the same database stands in for a second bot process.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest

from bot.store import GenerationStatus, InteractionRef, Lease, Store
from bot.store.migrate import (
    POSTGRES_MIGRATIONS_DIR,
    SQLITE_MIGRATIONS_DIR,
    apply_migrations,
    load_migrations,
)
from tests.core.conftest import (
    ALICE,
    BOB,
    CHANNEL,
    GUILD,
    NOON,
    PostgresBackend,
    SqliteBackend,
    StoreBackend,
    member,
    params,
)

MINUTE = timedelta(minutes=1)
LIVE = NOON + MINUTE  # a lease still running at NOON
GONE = NOON - MINUTE  # a lease that ran out before NOON


async def hold(store: Store, lease: Lease | None = None, user_id: int = ALICE) -> int:
    """Reserve one image for ``user_id`` at NOON; return the generation id."""
    held = await store.reserve(
        member(user_id), params(), bot_default_limit=50, now=NOON, lease=lease
    )
    return held.generation_id


async def lease_of(store: Store, generation_id: int) -> tuple[str | None, datetime | None]:
    record = await store.get_generation(generation_id)
    assert record is not None
    return record.owner, record.lease_until


class TestReserve:
    async def test_the_lease_is_stored_with_the_reservation(self, store: Store) -> None:
        leased = await hold(store, Lease("shard-0", LIVE))
        legacy = await hold(store)  # a caller that does not know about leases yet
        queue = {record.id: record for record in await store.in_flight()}
        assert (queue[leased].owner, queue[leased].lease_until) == ("shard-0", LIVE)
        assert (queue[legacy].owner, queue[legacy].lease_until) == (None, None)

    async def test_the_token_still_stays_out_of_reprs(self, store: Store) -> None:
        await store.reserve(
            member(),
            params(),
            bot_default_limit=50,
            now=NOON,
            interaction=InteractionRef(token="tok-secret", expires_at=LIVE),
            lease=Lease("shard-0", LIVE),
        )
        (record,) = await store.in_flight()
        assert "tok-secret" not in repr(record) and "shard-0" in repr(record)

    def test_a_lease_needs_an_owner_and_an_aware_end(self) -> None:
        with pytest.raises(ValueError, match="owner"):
            Lease("", LIVE)
        with pytest.raises(ValueError, match="aware"):
            Lease("shard-0", LIVE.replace(tzinfo=None))


class TestRenew:
    async def test_renewal_moves_only_the_owners_in_flight_leases(self, store: Store) -> None:
        queued = await hold(store, Lease("a", LIVE))
        running = await hold(store, Lease("a", LIVE))
        await store.mark_running(running, now=NOON)
        finished = await hold(store, Lease("a", LIVE))
        await store.complete(finished, delivered=1, latency_ms=10, now=NOON)
        others = await hold(store, Lease("b", LIVE), user_id=BOB)

        later = NOON + 10 * MINUTE
        assert await store.renew_leases("a", later) == 2
        assert await lease_of(store, queued) == ("a", later)
        assert await lease_of(store, running) == ("a", later)
        assert await lease_of(store, finished) == ("a", LIVE)  # settled: left as it was
        assert await lease_of(store, others) == ("b", LIVE)
        assert await store.renew_leases("nobody", later) == 0

    async def test_a_claimed_job_is_no_longer_renewed_by_its_old_owner(self, store: Store) -> None:
        taken = await hold(store, Lease("dead", GONE))
        kept = await hold(store, Lease("dead", GONE))
        assert await store.claim(taken, previous_owner="dead", owner="heir", until=LIVE, now=NOON)
        assert await store.renew_leases("dead", NOON + 5 * MINUTE) == 1
        assert await lease_of(store, taken) == ("heir", LIVE)
        assert await lease_of(store, kept) == ("dead", NOON + 5 * MINUTE)


class TestClaim:
    async def test_an_expired_lease_changes_hands_once(self, store: Store) -> None:
        job = await hold(store, Lease("dead", GONE))
        assert await store.claim(job, previous_owner="dead", owner="heir", until=LIVE, now=NOON)
        assert await lease_of(store, job) == ("heir", LIVE)
        # A second process that also saw "dead" loses: the owner is no longer that.
        assert not await store.claim(
            job, previous_owner="dead", owner="late", until=LIVE, now=NOON + 2 * MINUTE
        )
        assert await lease_of(store, job) == ("heir", LIVE)

    async def test_the_wrong_previous_owner_takes_nothing(self, store: Store) -> None:
        job = await hold(store, Lease("dead", GONE))
        assert not await store.claim(
            job, previous_owner="other", owner="heir", until=LIVE, now=NOON
        )
        assert not await store.claim(job, previous_owner=None, owner="heir", until=LIVE, now=NOON)
        assert await lease_of(store, job) == ("dead", GONE)

    async def test_a_live_lease_is_not_taken(self, store: Store) -> None:
        """The owner renewed after the claimer looked: the claimer must not run it too."""
        job = await hold(store, Lease("alive", GONE))
        assert await store.renew_leases("alive", LIVE) == 1
        assert not await store.claim(
            job, previous_owner="alive", owner="heir", until=LIVE, now=NOON
        )
        assert await lease_of(store, job) == ("alive", LIVE)
        # The moment it ends, it is claimable.
        assert await store.claim(job, previous_owner="alive", owner="heir", until=LIVE, now=LIVE)

    async def test_a_job_from_before_leases_is_claimed_with_no_previous_owner(
        self, store: Store
    ) -> None:
        job = await hold(store)
        assert not await store.claim(job, previous_owner="x", owner="heir", until=LIVE, now=NOON)
        assert await store.claim(job, previous_owner=None, owner="heir", until=LIVE, now=NOON)
        assert not await store.claim(job, previous_owner=None, owner="late", until=LIVE, now=NOON)
        assert await lease_of(store, job) == ("heir", LIVE)

    async def test_finished_and_unknown_jobs_cannot_be_claimed(self, store: Store) -> None:
        done = await hold(store, Lease("dead", GONE))
        await store.complete(done, delivered=1, latency_ms=10, now=NOON)
        failed = await hold(store)
        await store.fail(failed, error_class="upstream", now=NOON)
        cancelled = await hold(store, Lease("dead", GONE))
        await store.cancel(cancelled, now=NOON)
        assert not await store.claim(
            done, previous_owner="dead", owner="heir", until=LIVE, now=NOON
        )
        assert not await store.claim(
            failed, previous_owner=None, owner="heir", until=LIVE, now=NOON
        )
        assert not await store.claim(
            cancelled, previous_owner="dead", owner="heir", until=LIVE, now=NOON
        )
        assert not await store.claim(
            cancelled + 100, previous_owner=None, owner="heir", until=LIVE, now=NOON
        )
        record = await store.get_generation(done)
        assert record is not None and record.status is GenerationStatus.SUCCEEDED
        assert record.owner == "dead"  # settling keeps the last owner for the log

    async def test_claim_defaults_to_the_stores_clock(self, backend: StoreBackend) -> None:
        store = await backend.open(clock=lambda: NOON)
        live = await hold(store, Lease("alive", LIVE))
        gone = await hold(store, Lease("dead", GONE))
        assert not await store.claim(live, previous_owner="alive", owner="heir", until=LIVE)
        assert await store.claim(gone, previous_owner="dead", owner="heir", until=LIVE)

    async def test_exactly_one_of_many_processes_takes_each_job(
        self, backend: StoreBackend
    ) -> None:
        one = await backend.open()
        two = await backend.open()
        jobs = [await hold(one, Lease("dead", GONE)) for _ in range(3)]
        jobs.append(await hold(one))  # and one from before leases

        async def claim(store: Store, job: int, owner: str) -> tuple[int, str] | None:
            previous = None if job == jobs[-1] else "dead"
            taken = await store.claim(
                job, previous_owner=previous, owner=owner, until=LIVE, now=NOON
            )
            return (job, owner) if taken else None

        attempts = [
            claim(store, job, f"{name}-{i}")
            for job in jobs
            for i in range(8)
            for name, store in (("one", one), ("two", two))
        ]
        results = await asyncio.gather(*attempts)
        winners = [result for result in results if result is not None]
        assert sorted(job for job, _ in winners) == jobs  # each job exactly once
        for job, owner in winners:
            assert await lease_of(two, job) == (owner, LIVE)


class TestExpire:
    async def test_a_stopping_process_makes_its_jobs_claimable_at_once(
        self, backend: StoreBackend
    ) -> None:
        stopping = await backend.open()
        jobs = [await hold(stopping, Lease("a", NOON + 10 * MINUTE)) for _ in range(2)]
        others = await hold(stopping, Lease("b", LIVE), user_id=BOB)
        assert await stopping.expire_leases("a", now=NOON) == 2
        await stopping.close()

        successor = await backend.open()
        for job in jobs:
            assert await lease_of(successor, job) == ("a", NOON)
            assert await successor.claim(
                job, previous_owner="a", owner="successor", until=LIVE, now=NOON
            )
        assert await lease_of(successor, others) == ("b", LIVE)
        assert not await successor.claim(
            others, previous_owner="b", owner="successor", until=LIVE, now=NOON
        )

    async def test_expiring_never_lengthens_a_lease_nor_touches_finished_jobs(
        self, store: Store
    ) -> None:
        lapsed = await hold(store, Lease("a", NOON - 5 * MINUTE))
        finished = await hold(store, Lease("a", LIVE))
        await store.complete(finished, delivered=1, latency_ms=10, now=NOON)
        assert await store.expire_leases("a", now=NOON) == 1
        assert await lease_of(store, lapsed) == ("a", NOON - 5 * MINUTE)
        assert await lease_of(store, finished) == ("a", LIVE)
        assert await store.expire_leases("nobody", now=NOON) == 0


class TestUpgradeFrom0004:
    """Jobs written by a build without leases survive the upgrade and can be taken over."""

    async def _migrate_to_0004_with_rows(self, backend: StoreBackend) -> None:
        if isinstance(backend, SqliteBackend):
            import aiosqlite

            conn = await aiosqlite.connect(backend.path, isolation_level=None)
            try:
                migrations = load_migrations(SQLITE_MIGRATIONS_DIR)
                assert await apply_migrations(conn, migrations, up_to=4) == [1, 2, 3, 4]
                await conn.executescript(self._rows("1", "0", "+00:00"))
            finally:
                await conn.close()
            return
        assert isinstance(backend, PostgresBackend)
        import asyncpg

        from bot.store.migrate_postgres import apply_postgres_migrations

        pg: Any = await asyncpg.connect(
            backend.url, timeout=10, server_settings={"search_path": backend.schema}
        )
        try:
            migrations = load_migrations(POSTGRES_MIGRATIONS_DIR)
            assert await apply_postgres_migrations(pg, migrations, up_to=4) == [1, 2, 3, 4]
            await pg.execute(self._rows("true", "false", "Z"))
        finally:
            await pg.close()

    @staticmethod
    def _rows(true: str, false: str, utc: str) -> str:
        return f"""
            INSERT INTO generations (guild_id, channel_id, user_id, prompt, width, height,
                size_preset, steps, guidance, acceleration, seed, safety_checker, count,
                status, reserved, delivered, latency_ms, message_id, created_at, started_at,
                finished_at)
            VALUES ({GUILD}, {CHANNEL}, {ALICE}, 'an old otter', 1024, 768, 'landscape_4_3',
                28, 4.5, 'regular', 42, {true}, 4, 'succeeded', 0, 3, 5100, 555,
                '2025-03-14T09:00:00.000000{utc}', '2025-03-14T09:00:01.000000{utc}',
                '2025-03-14T09:00:06.000000{utc}');
            INSERT INTO generations (guild_id, channel_id, user_id, prompt, width, height,
                size_preset, steps, guidance, acceleration, seed, safety_checker, count,
                status, reserved, delivered, created_at, interaction_token, token_expires_at)
            VALUES ({GUILD}, {CHANNEL}, {ALICE}, 'queued when the old bot stopped', 512, 512,
                NULL, 20, 3.0, 'high', 7, {false}, 2, 'queued', 2, 0,
                '2025-03-14T11:50:00.000000{utc}', 'old-token',
                '2025-03-14T12:05:00.000000{utc}');
        """

    async def test_rows_are_kept_and_old_jobs_belong_to_nobody(self, backend: StoreBackend) -> None:
        await self._migrate_to_0004_with_rows(backend)
        store = await backend.open()  # applies 0005

        old = await store.get_generation(1)
        assert old is not None
        assert (old.params.prompt, old.status, old.delivered, old.message_id) == (
            "an old otter",
            GenerationStatus.SUCCEEDED,
            3,
            555,
        )
        assert (old.owner, old.lease_until) == (None, None)
        (queued,) = await store.in_flight()
        assert (queued.id, queued.params.prompt) == (2, "queued when the old bot stopped")
        assert queued.interaction_token == "old-token"
        assert (queued.owner, queued.lease_until) == (None, None)

        assert await store.claim(2, previous_owner=None, owner="new", until=LIVE, now=NOON)
        assert await store.renew_leases("new", NOON + 5 * MINUTE) == 1
        assert await lease_of(store, 2) == ("new", NOON + 5 * MINUTE)
        fresh = await hold(store, Lease("new", LIVE))
        assert fresh == 3 and await lease_of(store, fresh) == ("new", LIVE)
