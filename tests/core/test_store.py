"""The store as the bot uses it: quotas that hold under races and never overcharge.

Every test taking ``store`` or ``backend`` runs on SQLite and on PostgreSQL (see conftest).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import sys
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import aiosqlite
import pytest

from bot.policy.rules import BlockedWordsFull
from bot.store import (
    AuditAction,
    GenerationNotFound,
    GenerationStateError,
    GenerationStatus,
    LimitSource,
    QuotaExceeded,
    Store,
    StoreConfigError,
    common,
    open_store,
    sqlite_path_from_url,
)
from bot.store.base import Reservation
from bot.store.common import StoreCommon
from tests.core.conftest import (
    ALICE,
    BOB,
    CHANNEL,
    GUILD,
    MOD,
    NOON,
    PostgresBackend,
    SqliteBackend,
    StoreBackend,
    member,
    params,
)

DEFAULT = 5  # the bot-wide DEFAULT_DAILY_LIMIT in these tests


async def used(store: Store, user_id: int = ALICE, now: datetime = NOON) -> int:
    return (await store.usage(member(user_id), bot_default_limit=DEFAULT, now=now)).used


class TestResolutionThroughTheStore:
    async def test_each_level_overrides_the_next(self, store: Store) -> None:
        someone = member(ALICE, 11, 12)

        async def source() -> tuple[int, LimitSource, int | None]:
            limit = (await store.usage(someone, bot_default_limit=DEFAULT, now=NOON)).limit
            return limit.limit, limit.source, limit.role_id

        assert await source() == (5, LimitSource.BOT_DEFAULT, None)
        await store.set_default_limit(GUILD, 8, actor_id=MOD)
        assert await source() == (8, LimitSource.SERVER_DEFAULT, None)
        await store.set_role_limit(GUILD, 11, 3, actor_id=MOD)
        await store.set_role_limit(GUILD, 12, 20, actor_id=MOD)
        await store.set_role_limit(GUILD, 13, 99, actor_id=MOD)  # a role Alice lacks
        assert await source() == (20, LimitSource.ROLE, 12)
        await store.set_member_limit(GUILD, ALICE, 1, actor_id=MOD)
        assert await source() == (1, LimitSource.MEMBER, None)
        # Removing settings falls back level by level.
        await store.set_member_limit(GUILD, ALICE, None, actor_id=MOD)
        await store.set_role_limit(GUILD, 12, None, actor_id=MOD)
        assert await source() == (3, LimitSource.ROLE, 11)

    async def test_reserve_enforces_the_resolved_limit(self, store: Store) -> None:
        await store.set_role_limit(GUILD, 11, 2, actor_id=MOD)
        with pytest.raises(QuotaExceeded) as caught:
            await store.reserve(member(ALICE, 11), params(3), bot_default_limit=DEFAULT, now=NOON)
        assert (caught.value.limit, caught.value.source) == (2, LimitSource.ROLE)
        reservation = await store.reserve(
            member(ALICE, 11), params(2), bot_default_limit=DEFAULT, now=NOON
        )
        assert reservation.limit.role_id == 11
        assert reservation.remaining_after == 0
        assert reservation.reset_at == datetime(2025, 3, 15, tzinfo=UTC)

    async def test_zero_blocks_the_member(self, store: Store) -> None:
        await store.set_member_limit(GUILD, ALICE, 0, actor_id=MOD)
        with pytest.raises(QuotaExceeded) as caught:
            await store.reserve(member(), params(1), bot_default_limit=DEFAULT, now=NOON)
        assert caught.value.blocked
        # Bob is unaffected.
        await store.reserve(member(BOB), params(1), bot_default_limit=DEFAULT, now=NOON)

    async def test_limits_are_per_guild(self, store: Store) -> None:
        await store.set_member_limit(GUILD, ALICE, 0, actor_id=MOD)
        await store.reserve(
            member(ALICE, guild_id=GUILD + 1), params(1), bot_default_limit=DEFAULT, now=NOON
        )


class TestServerBudget:
    async def test_budget_blocks_even_with_member_quota_left(self, store: Store) -> None:
        await store.set_server_budget(GUILD, 3, actor_id=MOD)
        await store.reserve(member(ALICE), params(2), bot_default_limit=DEFAULT, now=NOON)
        with pytest.raises(QuotaExceeded) as caught:
            await store.reserve(member(BOB), params(2), bot_default_limit=DEFAULT, now=NOON)
        error = caught.value
        assert (error.scope, error.limit, error.used, error.remaining) == ("server", 3, 2, 1)
        await store.reserve(member(BOB), params(1), bot_default_limit=DEFAULT, now=NOON)
        summary = await store.usage(member(BOB), bot_default_limit=DEFAULT, now=NOON)
        assert (summary.used, summary.remaining) == (1, 4)
        assert (summary.server_budget, summary.server_used, summary.server_remaining) == (3, 3, 0)

    async def test_budget_counts_images_a_reset_forgave(self, store: Store) -> None:
        # A member reset forgives the member's quota, not the server's spend.
        await store.set_server_budget(GUILD, 2, actor_id=MOD)
        await store.reserve(member(), params(2), bot_default_limit=DEFAULT, now=NOON)
        await store.reset_member_usage(GUILD, ALICE, actor_id=MOD, now=NOON)
        with pytest.raises(QuotaExceeded) as caught:
            await store.reserve(member(), params(1), bot_default_limit=DEFAULT, now=NOON)
        assert caught.value.scope == "server"

    async def test_server_counter_always_matches_the_log(self, store: Store) -> None:
        # The server total is a trigger-kept counter; every path that changes a charge
        # must move it, including ones that touch many rows at once.
        yesterday = NOON - timedelta(days=1)
        a = await store.reserve(member(ALICE), params(4), bot_default_limit=DEFAULT, now=NOON)
        b = await store.reserve(member(BOB), params(3), bot_default_limit=DEFAULT, now=NOON)
        c = await store.reserve(member(BOB), params(2), bot_default_limit=DEFAULT, now=yesterday)
        d = await store.reserve(member(ALICE), params(1), bot_default_limit=DEFAULT, now=NOON)
        await store.reserve(member(BOB), params(1), bot_default_limit=DEFAULT, now=NOON)
        await store.complete(a.generation_id, delivered=2, latency_ms=1, now=NOON)
        await store.fail(b.generation_id, error_class="x", now=NOON)
        await store.complete(c.generation_id, delivered=2, latency_ms=1, now=NOON)
        await store.cancel(d.generation_id, now=NOON)
        await store.reset_member_usage(GUILD, ALICE, actor_id=MOD, now=NOON)
        with pytest.raises(QuotaExceeded):  # a refusal must not move the counter either
            await store.reserve(member(BOB), params(9), bot_default_limit=DEFAULT, now=NOON)
        assert (await store.usage(member(), bot_default_limit=DEFAULT, now=NOON)).server_used == 3
        await store.release_orphans(now=NOON)
        assert (await store.usage(member(), bot_default_limit=DEFAULT, now=NOON)).server_used == 2
        # usage() reads the counter; daily_totals() sums the log itself. They must agree.
        counters = [
            (await store.usage(member(), bot_default_limit=DEFAULT, now=day)).server_used
            for day in (yesterday, NOON)
        ]
        sums = [t.images for t in await store.daily_totals(GUILD, days=2, now=NOON)]
        assert counters == sums == [2, 2]


class TestRaces:
    async def test_100_concurrent_requests_for_the_last_5_images(self, store: Store) -> None:
        await store.set_default_limit(GUILD, 7, actor_id=MOD)
        first = await store.reserve(member(), params(2), bot_default_limit=DEFAULT, now=NOON)
        await store.complete(first.generation_id, delivered=2, latency_ms=10, now=NOON)

        results = await asyncio.gather(
            *(
                store.reserve(member(), params(1), bot_default_limit=DEFAULT, now=NOON)
                for _ in range(100)
            ),
            return_exceptions=True,
        )
        granted = [r for r in results if not isinstance(r, BaseException)]
        refused = [r for r in results if isinstance(r, QuotaExceeded)]
        assert len(granted) == 5
        assert len(refused) == 95
        assert sorted(r.remaining_after for r in granted) == [0, 1, 2, 3, 4]
        assert all(error.remaining == 0 and error.used == 7 for error in refused)
        assert await used(store) == 7
        totals = await store.daily_totals(GUILD, days=1, now=NOON)
        assert (totals[0].images, totals[0].generations) == (7, 6)

    async def test_members_racing_for_the_last_server_image(self, store: Store) -> None:
        await store.set_server_budget(GUILD, 1, actor_id=MOD)
        results = await asyncio.gather(
            *(
                store.reserve(member(user), params(1), bot_default_limit=DEFAULT, now=NOON)
                for user in range(50)
            ),
            return_exceptions=True,
        )
        assert sum(not isinstance(r, BaseException) for r in results) == 1
        assert sum(isinstance(r, QuotaExceeded) and r.scope == "server" for r in results) == 49

    async def test_two_store_instances_on_one_database_still_never_overcharge(
        self, backend: StoreBackend
    ) -> None:
        # Two processes (here: two stores) share only the database, which must order them.
        one = await backend.open()
        two = await backend.open()
        try:
            await one.set_member_limit(GUILD, ALICE, 3, actor_id=MOD)
            # 200 requests: without BEGIN IMMEDIATE (SQLite) or the guild lock (PostgreSQL)
            # the two stores interleave and overcharge.
            results = await asyncio.gather(
                *(
                    s.reserve(member(), params(1), bot_default_limit=DEFAULT, now=NOON)
                    for s in (one, two) * 100
                ),
                return_exceptions=True,
            )
            assert sum(not isinstance(r, BaseException) for r in results) == 3
            assert sum(isinstance(r, QuotaExceeded) for r in results) == 197
        finally:
            await one.close()
            await two.close()


class TestCharging:
    async def test_asking_for_4_with_2_left_says_2_remain(self, store: Store) -> None:
        await store.reserve(member(), params(3), bot_default_limit=DEFAULT, now=NOON)
        with pytest.raises(QuotaExceeded) as caught:
            await store.reserve(member(), params(4), bot_default_limit=DEFAULT, now=NOON)
        assert (caught.value.remaining, caught.value.requested) == (2, 4)
        assert caught.value.reset_at == datetime(2025, 3, 15, tzinfo=UTC)
        assert await used(store) == 3  # the refusal charged nothing

    async def test_in_flight_reservation_counts_until_settled(self, store: Store) -> None:
        reservation = await store.reserve(member(), params(4), bot_default_limit=DEFAULT, now=NOON)
        assert reservation.remaining_after == 1
        await store.mark_running(reservation.generation_id, now=NOON)
        assert await used(store) == 4

    async def test_failed_generation_refunds_everything(self, store: Store) -> None:
        reservation = await store.reserve(member(), params(4), bot_default_limit=DEFAULT, now=NOON)
        await store.mark_running(reservation.generation_id, now=NOON)
        await store.fail(reservation.generation_id, error_class="upstream_503", now=NOON)
        assert await used(store) == 0
        record = await store.get_generation(reservation.generation_id)
        assert record is not None
        assert (record.status, record.error_class, record.delivered) == (
            GenerationStatus.FAILED,
            "upstream_503",
            0,
        )

    async def test_partial_result_charges_only_what_was_delivered(self, store: Store) -> None:
        reservation = await store.reserve(member(), params(4), bot_default_limit=DEFAULT, now=NOON)
        await store.mark_running(reservation.generation_id, now=NOON)
        await store.complete(
            reservation.generation_id, delivered=2, latency_ms=5400, message_id=777, now=NOON
        )
        assert await used(store) == 2
        record = await store.get_generation(reservation.generation_id)
        assert record is not None
        assert record.status is GenerationStatus.SUCCEEDED
        assert (record.reserved, record.delivered, record.charged) == (0, 2, 2)
        assert (record.latency_ms, record.message_id) == (5400, 777)

    async def test_nothing_delivered_is_a_failure_and_free(self, store: Store) -> None:
        reservation = await store.reserve(member(), params(2), bot_default_limit=DEFAULT, now=NOON)
        await store.complete(reservation.generation_id, delivered=0, latency_ms=1, now=NOON)
        record = await store.get_generation(reservation.generation_id)
        assert record is not None and record.status is GenerationStatus.FAILED
        assert await used(store) == 0

    async def test_cancel_refunds(self, store: Store) -> None:
        reservation = await store.reserve(member(), params(3), bot_default_limit=DEFAULT, now=NOON)
        await store.cancel(reservation.generation_id, now=NOON)
        assert await used(store) == 0
        record = await store.get_generation(reservation.generation_id)
        assert record is not None and record.status is GenerationStatus.CANCELLED

    async def test_cannot_deliver_more_than_reserved(self, store: Store) -> None:
        reservation = await store.reserve(member(), params(2), bot_default_limit=DEFAULT, now=NOON)
        with pytest.raises(ValueError):
            await store.complete(reservation.generation_id, delivered=3, latency_ms=1, now=NOON)
        assert await used(store) == 2  # still reserved, untouched

    async def test_settling_twice_is_refused_not_double_counted(self, store: Store) -> None:
        reservation = await store.reserve(member(), params(2), bot_default_limit=DEFAULT, now=NOON)
        await store.cancel(reservation.generation_id, now=NOON)
        with pytest.raises(GenerationStateError) as caught:
            await store.complete(reservation.generation_id, delivered=2, latency_ms=1, now=NOON)
        assert caught.value.status is GenerationStatus.CANCELLED
        with pytest.raises(GenerationStateError):
            await store.mark_running(reservation.generation_id, now=NOON)
        assert await used(store) == 0

    async def test_unknown_generation(self, store: Store) -> None:
        with pytest.raises(GenerationNotFound):
            await store.fail(424242, error_class="x")
        assert await store.get_generation(424242) is None

    async def test_abandoned_reserve_is_refunded(self, store: Store, backend: StoreBackend) -> None:
        # The interaction handler is cancelled while its reservation is being written.
        task = asyncio.ensure_future(
            store.reserve(member(), params(3), bot_default_limit=DEFAULT, now=NOON)
        )
        await asyncio.sleep(0)  # let it start and hand its transaction to the store
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await store.close()  # waits for the background refund
        reopened = await backend.open()
        try:
            # Dropped before it was written, or written and refunded: never left held.
            records = await reopened.export_usage(GUILD, days=1, now=NOON)
            assert {r.status for r in records} <= {GenerationStatus.CANCELLED}
            assert await used(reopened) == 0
        finally:
            await reopened.close()

    async def test_a_reserve_abandoned_while_the_database_is_busy_writes_nothing(
        self, store: Store, backend: StoreBackend
    ) -> None:
        # The acknowledgement budget runs out while another connection holds the lock
        # the reservation needs; by the time it gets the lock, its caller is gone.
        async with held_reservation_lock(backend, store):
            task = asyncio.ensure_future(
                store.reserve(member(), params(3), bot_default_limit=DEFAULT, now=NOON)
            )
            for _ in range(5):
                await asyncio.sleep(0)  # let it reach the lock
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        assert isinstance(store, StoreCommon)
        await store.refunds_settled()

        assert await store.export_usage(GUILD, days=1, now=NOON) == []
        assert await used(store) == 0
        again = await store.reserve(member(), params(3), bot_default_limit=DEFAULT, now=NOON)
        assert again.remaining_after == DEFAULT - 3, "the store still works"

    async def test_a_refund_rides_out_a_busy_database(
        self, store: Store, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        assert isinstance(store, StoreCommon)
        held = await store.reserve(member(), params(2), bot_default_limit=DEFAULT, now=NOON)
        real_cancel, attempts = store.cancel, []

        async def locked_twice(generation_id: int, now: datetime | None = None) -> None:
            attempts.append(generation_id)
            if len(attempts) <= 2:
                raise sqlite3.OperationalError("database is locked")
            await real_cancel(generation_id, now=now)

        monkeypatch.setattr(common, "REFUND_RETRY_DELAYS", (0.0, 0.0, 0.0))
        monkeypatch.setattr(store, "cancel", locked_twice)
        done: asyncio.Future[Reservation] = asyncio.get_running_loop().create_future()
        done.set_result(held)

        await store._refund_when_done(done)

        assert attempts == [held.generation_id] * 3
        assert await used(store) == 0


@contextlib.asynccontextmanager
async def held_reservation_lock(backend: StoreBackend, store: Store) -> AsyncIterator[None]:
    """Another connection holds what a reservation must wait for, until the block ends."""
    if isinstance(backend, SqliteBackend):
        async with aiosqlite.connect(backend.path, isolation_level=None) as other:
            await other.execute("BEGIN IMMEDIATE")
            try:
                yield
            finally:
                await other.execute("ROLLBACK")
        return
    import asyncpg

    from bot.store.postgres import PostgresStore

    assert isinstance(store, PostgresStore) and isinstance(backend, PostgresBackend)
    other = await asyncpg.connect(backend.url, timeout=10)
    try:
        await other.execute("SELECT pg_advisory_lock($1)", store._lock_key("quota", GUILD))
        try:
            yield
        finally:
            await other.execute("SELECT pg_advisory_unlock_all()")
    finally:
        await other.close()


class TestDays:
    async def test_a_new_utc_day_resets_usage(self, store: Store) -> None:
        late = datetime(2025, 3, 14, 23, 59, 59, tzinfo=UTC)
        reservation = await store.reserve(member(), params(5), bot_default_limit=DEFAULT, now=late)
        with pytest.raises(QuotaExceeded):
            await store.reserve(member(), params(1), bot_default_limit=DEFAULT, now=late)
        # Delivered after midnight: still charged to the day it was reserved on.
        after_midnight = datetime(2025, 3, 15, 0, 0, 1, tzinfo=UTC)
        await store.complete(
            reservation.generation_id, delivered=5, latency_ms=2000, now=after_midnight
        )
        assert await used(store, now=late) == 5
        assert await used(store, now=after_midnight) == 0
        fresh = await store.reserve(
            member(), params(5), bot_default_limit=DEFAULT, now=after_midnight
        )
        assert fresh.reset_at == datetime(2025, 3, 16, tzinfo=UTC)

    async def test_reset_member_usage_clears_today(self, store: Store) -> None:
        done = await store.reserve(member(), params(3), bot_default_limit=DEFAULT, now=NOON)
        await store.complete(done.generation_id, delivered=3, latency_ms=1, now=NOON)
        in_flight = await store.reserve(member(), params(2), bot_default_limit=DEFAULT, now=NOON)
        await store.reserve(member(BOB), params(1), bot_default_limit=DEFAULT, now=NOON)

        cleared = await store.reset_member_usage(GUILD, ALICE, actor_id=MOD, now=NOON)

        assert cleared == 5
        assert await used(store) == 0
        assert await used(store, BOB) == 1  # only Alice was reset
        # The in-flight request finishing later does not bring the charge back.
        await store.complete(in_flight.generation_id, delivered=2, latency_ms=1, now=NOON)
        assert await used(store) == 0
        # New requests after the reset count again.
        await store.reserve(member(), params(5), bot_default_limit=DEFAULT, now=NOON)
        assert await used(store) == 5
        entry = (await store.audit_log(GUILD, limit=1))[0]
        assert (entry.action, entry.target_id, entry.old_value, entry.new_value) == (
            AuditAction.RESET_USAGE,
            ALICE,
            "5",
            "0",
        )

    async def test_naive_now_is_refused(self, store: Store) -> None:
        with pytest.raises(ValueError):
            await store.reserve(
                member(), params(1), bot_default_limit=DEFAULT, now=datetime(2025, 3, 14, 12)
            )


class TestOrphans:
    async def test_restart_releases_orphaned_reservations(self, backend: StoreBackend) -> None:
        first = await backend.open()
        queued = await first.reserve(member(), params(2), bot_default_limit=DEFAULT, now=NOON)
        running = await first.reserve(member(), params(3), bot_default_limit=DEFAULT, now=NOON)
        await first.mark_running(running.generation_id, now=NOON)
        finished = await first.reserve(member(BOB), params(1), bot_default_limit=DEFAULT, now=NOON)
        await first.complete(finished.generation_id, delivered=1, latency_ms=1, now=NOON)
        assert await used(first) == 5
        await first.close()  # the process "dies" with two requests in flight

        second = await backend.open()
        try:
            assert await used(second) == 5  # still held until released
            assert await second.release_orphans(now=NOON) == 2
            assert await used(second) == 0
            assert await used(second, BOB) == 1  # finished work stays charged
            for generation_id in (queued.generation_id, running.generation_id):
                record = await second.get_generation(generation_id)
                assert record is not None
                assert (record.status, record.error_class) == (
                    GenerationStatus.FAILED,
                    "interrupted",
                )
            assert await second.release_orphans(now=NOON) == 0
        finally:
            await second.close()


class TestGenerationRecord:
    async def test_every_parameter_round_trips_for_rerolls(self, store: Store) -> None:
        original = params(2, prompt="ünïcødé prompt 🦦")
        parent = await store.reserve(member(), original, bot_default_limit=DEFAULT, now=NOON)
        child = await store.reserve(
            member(), params(1), bot_default_limit=DEFAULT, now=NOON, parent_id=parent.generation_id
        )
        record = await store.get_generation(parent.generation_id)
        assert record is not None
        assert record.params == original
        assert (record.guild_id, record.channel_id, record.user_id) == (GUILD, CHANNEL, ALICE)
        assert record.status is GenerationStatus.QUEUED
        assert record.created_at == NOON
        child_record = await store.get_generation(child.generation_id)
        assert child_record is not None and child_record.parent_id == parent.generation_id

    async def test_the_public_language_is_kept_with_the_job(self, store: Store) -> None:
        french = await store.reserve(
            member(), params(1), bot_default_limit=DEFAULT, now=NOON, locale="fr"
        )
        plain = await store.reserve(member(), params(1), bot_default_limit=DEFAULT, now=NOON)
        record = await store.get_generation(french.generation_id)
        assert record is not None and record.locale == "fr"
        (in_flight,) = [r for r in await store.in_flight() if r.id == french.generation_id]
        assert in_flight.locale == "fr", "what a restart resumes the job with"
        other = await store.get_generation(plain.generation_id)
        assert other is not None and other.locale == "en-US"

    async def test_the_members_language_is_kept_with_the_job_beside_the_public_one(
        self, store: Store
    ) -> None:
        asked = await store.reserve(
            member(), params(1), bot_default_limit=DEFAULT, now=NOON, locale="fr",
            member_locale="de",
        )  # fmt: skip
        plain = await store.reserve(member(), params(1), bot_default_limit=DEFAULT, now=NOON)
        record = await store.get_generation(asked.generation_id)
        assert record is not None and (record.locale, record.member_locale) == ("fr", "de")
        (in_flight,) = [r for r in await store.in_flight() if r.id == asked.generation_id]
        assert in_flight.member_locale == "de", "what a restart tells the member in"
        history, _ = await store.history(GUILD, ALICE, limit=10)
        assert {r.id: r.member_locale for r in history} == {
            asked.generation_id: "de",
            plain.generation_id: "en-US",
        }

    async def test_snowflakes_above_32_bits_survive(self, store: Store) -> None:
        big = 1_234_567_890_123_456_789
        someone = member(big, big + 1, guild_id=big + 2)
        await store.set_role_limit(big + 2, big + 1, 9, actor_id=big)
        reservation = await store.reserve(someone, params(1), bot_default_limit=DEFAULT, now=NOON)
        assert reservation.limit.role_id == big + 1
        record = await store.get_generation(reservation.generation_id)
        assert record is not None and record.user_id == big

    async def test_unknown_parent_is_refused(self, store: Store) -> None:
        with pytest.raises(GenerationNotFound):
            await store.reserve(
                member(), params(1), bot_default_limit=DEFAULT, now=NOON, parent_id=999
            )
        assert await used(store) == 0


class TestModeratorSettings:
    async def test_settings_return_old_value_and_are_audited(self, store: Store) -> None:
        assert await store.set_member_limit(GUILD, ALICE, 10, actor_id=MOD) is None
        assert await store.set_member_limit(GUILD, ALICE, 4, actor_id=MOD + 1) == 10
        assert await store.set_member_limit(GUILD, ALICE, None, actor_id=MOD) == 4
        assert await store.set_default_limit(GUILD, 6, actor_id=MOD) is None
        assert await store.set_server_budget(GUILD, 100, actor_id=MOD) is None
        assert await store.set_server_budget(GUILD, None, actor_id=MOD) == 100

        entries = await store.audit_log(GUILD, limit=10)
        described = [(e.action, e.actor_id, e.target_id, e.old_value, e.new_value) for e in entries]
        assert described == [  # most recent first
            (AuditAction.SERVER_BUDGET, MOD, None, "100", None),
            (AuditAction.SERVER_BUDGET, MOD, None, None, "100"),
            (AuditAction.DEFAULT_LIMIT, MOD, None, None, "6"),
            (AuditAction.MEMBER_LIMIT, MOD, ALICE, "4", None),
            (AuditAction.MEMBER_LIMIT, MOD + 1, ALICE, "10", "4"),
            (AuditAction.MEMBER_LIMIT, MOD, ALICE, None, "10"),
        ]
        assert all(e.guild_id == GUILD and e.at.tzinfo is not None for e in entries)
        assert len(await store.audit_log(GUILD, limit=2)) == 2
        assert await store.audit_log(GUILD + 1) == []

    async def test_setting_the_same_value_changes_nothing(self, store: Store) -> None:
        await store.set_role_limit(GUILD, 11, 5, actor_id=MOD)
        assert await store.set_role_limit(GUILD, 11, 5, actor_id=MOD) == 5
        assert len(await store.audit_log(GUILD)) == 1

    async def test_negative_limits_are_rejected(self, store: Store) -> None:
        with pytest.raises(ValueError):
            await store.set_member_limit(GUILD, ALICE, -1, actor_id=MOD)
        assert await store.audit_log(GUILD) == []

    async def test_channels_words_and_nsfw_show_in_policy(self, store: Store) -> None:
        assert await store.allow_channel(GUILD, 7, actor_id=MOD)
        assert not await store.allow_channel(GUILD, 7, actor_id=MOD)
        assert await store.allow_channel(GUILD, 8, actor_id=MOD)
        assert await store.disallow_channel(GUILD, 8, actor_id=MOD)
        assert not await store.disallow_channel(GUILD, 8, actor_id=MOD)
        assert await store.block_word(GUILD, "  Red   Wine ", actor_id=MOD)
        assert not await store.block_word(GUILD, "red wine", actor_id=MOD)
        assert await store.block_word(GUILD, "gore", actor_id=MOD)
        assert await store.unblock_word(GUILD, "GORE", actor_id=MOD)
        assert not await store.unblock_word(GUILD, "gore", actor_id=MOD)
        assert await store.set_nsfw_safety(GUILD, False, actor_id=MOD) is None
        assert await store.set_nsfw_safety(GUILD, True, actor_id=MOD) is False
        await store.set_role_limit(GUILD, 11, 20, actor_id=MOD)
        await store.set_member_limit(GUILD, ALICE, 2, actor_id=MOD)
        await store.set_default_limit(GUILD, 4, actor_id=MOD)

        policy = await store.guild_policy(GUILD)
        assert policy.allowed_channel_ids == frozenset({7})
        assert policy.blocked_words == ("red wine",)
        assert policy.nsfw_safety is True
        assert policy.role_limits == {11: 20}
        assert policy.member_limits == {ALICE: 2}
        assert policy.default_limit == 4
        assert policy.effective_limit(BOB, (11,), bot_default_limit=DEFAULT).limit == 20

        actions = [e.action for e in await store.audit_log(GUILD, limit=100)]
        # No-ops leave no trace; real changes each leave one.
        assert actions.count(AuditAction.ALLOW_CHANNEL) == 2
        assert actions.count(AuditAction.DISALLOW_CHANNEL) == 1
        assert actions.count(AuditAction.BLOCK_WORD) == 2
        assert actions.count(AuditAction.UNBLOCK_WORD) == 1
        assert actions.count(AuditAction.NSFW_SAFETY) == 2

    async def test_blocked_word_cap_refuses_new_words_and_changes_nothing(
        self, store: Store, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(sys.modules[type(store).__module__], "MAX_BLOCKED_WORDS_PER_GUILD", 2)
        assert await store.block_word(GUILD, "one", actor_id=MOD)
        assert await store.block_word(GUILD, "two", actor_id=MOD)
        with pytest.raises(BlockedWordsFull, match="at most 2") as full:
            await store.block_word(GUILD, "three", actor_id=MOD)
        assert full.value.cap == 2
        assert not await store.block_word(GUILD, "TWO", actor_id=MOD)  # existing: still fine
        assert (await store.guild_policy(GUILD)).blocked_words == ("one", "two")
        assert len(await store.audit_log(GUILD)) == 2
        assert await store.block_word(GUILD + 1, "three", actor_id=MOD)  # other guilds unaffected

    async def test_the_public_language_is_chosen_audited_and_cleared(self, store: Store) -> None:
        assert (await store.guild_policy(GUILD)).language is None
        assert await store.set_language(GUILD, "de", actor_id=MOD) is None
        assert await store.set_language(GUILD, "de", actor_id=MOD) == "de", "a no-op"
        policy = await store.guild_policy(GUILD)
        assert policy.language == "de" and policy.public_locale("fr") == "de"
        assert (await store.guild_policy(GUILD + 1)).language is None, "per server"
        assert await store.set_language(GUILD, "pt-BR", actor_id=MOD) == "de"
        assert await store.set_language(GUILD, None, actor_id=MOD) == "pt-BR"
        policy = await store.guild_policy(GUILD)
        assert policy.language is None and policy.public_locale("fr") == "fr"
        changes = [
            (e.action, e.actor_id, e.old_value, e.new_value)
            for e in reversed(await store.audit_log(GUILD, limit=100))
        ]
        assert changes == [
            (AuditAction.LANGUAGE, MOD, None, "de"),
            (AuditAction.LANGUAGE, MOD, "de", "pt-BR"),
            (AuditAction.LANGUAGE, MOD, "pt-BR", None),
        ]

    async def test_a_language_the_bot_does_not_speak_is_refused(self, store: Store) -> None:
        for code in ("xx", "de-DE", "it", ""):
            with pytest.raises(ValueError):
                await store.set_language(GUILD, code, actor_id=MOD)
        assert (await store.guild_policy(GUILD)).language is None
        assert await store.audit_log(GUILD) == []

    async def test_unconfigured_guild_has_empty_policy(self, store: Store) -> None:
        policy = await store.guild_policy(GUILD)
        assert policy.default_limit is None and policy.nsfw_safety is None
        assert not policy.allowed_channel_ids and not policy.blocked_words


class TestStatistics:
    async def _history(self, store: Store) -> None:
        day1 = datetime(2025, 3, 12, 10, tzinfo=UTC)
        day3 = datetime(2025, 3, 14, 10, tzinfo=UTC)
        ok = await store.reserve(member(ALICE), params(4), bot_default_limit=DEFAULT, now=day1)
        await store.complete(ok.generation_id, delivered=3, latency_ms=1, now=day1)
        bad = await store.reserve(member(BOB), params(2), bot_default_limit=DEFAULT, now=day1)
        await store.fail(bad.generation_id, error_class="timeout", now=day1)
        ok = await store.reserve(member(BOB), params(2), bot_default_limit=DEFAULT, now=day3)
        await store.complete(ok.generation_id, delivered=2, latency_ms=1, now=day3)
        await store.reserve(member(BOB), params(1), bot_default_limit=DEFAULT, now=day3)
        await store.reserve(
            member(ALICE, guild_id=GUILD + 1), params(1), bot_default_limit=DEFAULT, now=day3
        )

    async def test_daily_totals_fill_quiet_days(self, store: Store) -> None:
        await self._history(store)
        totals = await store.daily_totals(GUILD, days=4, now=NOON)
        assert [(t.day, t.images, t.generations, t.failures) for t in totals] == [
            (date(2025, 3, 11), 0, 0, 0),
            (date(2025, 3, 12), 3, 2, 1),
            (date(2025, 3, 13), 0, 0, 0),
            (date(2025, 3, 14), 3, 2, 0),
        ]

    async def test_top_members(self, store: Store) -> None:
        await self._history(store)
        top = await store.top_members(GUILD, days=7, now=NOON)
        assert [(m.user_id, m.images, m.generations) for m in top] == [
            (BOB, 3, 3),
            (ALICE, 3, 1),
        ]
        assert len(await store.top_members(GUILD, days=7, limit=1, now=NOON)) == 1
        only_today = await store.top_members(GUILD, days=1, now=NOON)
        assert [m.user_id for m in only_today] == [BOB]

    async def test_export_covers_the_window_for_this_guild_only(self, store: Store) -> None:
        await self._history(store)
        records = await store.export_usage(GUILD, days=1, now=NOON)
        assert [r.created_at.date() for r in records] == [date(2025, 3, 14)] * 2
        assert all(r.guild_id == GUILD for r in records)
        everything = await store.export_usage(GUILD, days=30, now=NOON)
        assert [r.status for r in everything] == [
            GenerationStatus.SUCCEEDED,
            GenerationStatus.FAILED,
            GenerationStatus.SUCCEEDED,
            GenerationStatus.QUEUED,
        ]


class TestOpenStore:
    async def test_relative_url_creates_the_folder(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.chdir(tmp_path)
        store = await open_store("sqlite:///data/nested/bot.db")
        try:
            await store.set_default_limit(GUILD, 3, actor_id=MOD)
        finally:
            await store.close()
        assert (tmp_path / "data" / "nested" / "bot.db").is_file()

    async def test_absolute_url_creates_the_folder(self, tmp_path: Path) -> None:
        target = tmp_path / "abs" / "dir" / "bot.db"
        store = await open_store(f"sqlite:///{target}")  # target starts with "/": four slashes
        await store.close()
        assert target.is_file()
        with sqlite3.connect(target) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

    def test_url_forms(self) -> None:
        assert sqlite_path_from_url("sqlite:///data/bot.db") == Path("data/bot.db")
        assert sqlite_path_from_url("sqlite:////var/lib/bot.db") == Path("/var/lib/bot.db")
        assert sqlite_path_from_url("SQLITE:///my%20data/bot.db") == Path("my data/bot.db")

    def test_a_postgres_url_is_not_a_sqlite_file(self) -> None:
        # open_store sends these to PostgresStore (tests/core/test_store_postgres.py).
        with pytest.raises(StoreConfigError) as caught:
            sqlite_path_from_url("postgresql://bot:hunter2@db.example/imagine")
        assert "hunter2" not in str(caught.value)
        assert "PostgreSQL" in str(caught.value)

    @pytest.mark.parametrize(
        "url",
        [
            "mysql://u:hunter2@h/db",
            "sqlite://",
            "sqlite:///",
            "sqlite:///data/",
            "sqlite://host/bot.db",
            "sqlite:///:memory:",
            "sqlite:///bot.db?mode=ro",
            "data/bot.db",
        ],
    )
    def test_bad_urls_are_config_errors(self, url: str) -> None:
        with pytest.raises(StoreConfigError) as caught:
            sqlite_path_from_url(url)
        assert "hunter2" not in str(caught.value)


async def test_now_defaults_to_the_injected_clock(backend: StoreBackend) -> None:
    ticks = iter([NOON, NOON + timedelta(days=1)])
    store = await backend.open(clock=lambda: next(ticks))
    try:
        reservation = await store.reserve(member(), params(1), bot_default_limit=DEFAULT)
        assert reservation.reset_at == datetime(2025, 3, 15, tzinfo=UTC)
        summary = await store.usage(member(), bot_default_limit=DEFAULT)
        assert summary.used == 0 and summary.reset_at == datetime(2025, 3, 16, tzinfo=UTC)
    finally:
        await store.close()
