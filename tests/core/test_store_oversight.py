"""The spend and retention, in the store: exact costs, pruning that changes no statistic.

Every test runs on SQLite and on PostgreSQL (see conftest).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from bot.policy.spend import Price, dollars, exact_usd, usd
from bot.store import AuditAction, GenerationStatus, Store
from tests.core.conftest import ALICE, BOB, GUILD, MOD, NOON, StoreBackend, member, params

DEFAULT = 50
PRICE = Price.parse("0.025")


async def delivered(
    store: Store,
    user_id: int,
    count: int,
    got: int,
    *,
    width: int = 1024,
    height: int = 768,
    at: datetime = NOON,
) -> int:
    reservation = await store.reserve(
        member(user_id),
        params(count, width=width, height=height),
        bot_default_limit=DEFAULT,
        now=at,
    )
    await store.complete(reservation.generation_id, delivered=got, latency_ms=1, now=at)
    return reservation.generation_id


def expected_usd(*orders: tuple[int, int, int]) -> Decimal:
    """The cost of (width, height, images) orders at $0.025 per megapixel, in Decimal."""
    return sum(
        (Decimal(w * h) / Decimal(10**6) * n * Decimal("0.025") for w, h, n in orders),
        Decimal(0),
    )


class TestSpend:
    async def test_costs_are_exact_for_mixed_sizes_and_counts(self, backend: StoreBackend) -> None:
        store = await backend.open(price=PRICE)
        await delivered(store, ALICE, 4, 3, width=1024, height=768)  # 3 of 4 delivered
        await delivered(store, ALICE, 1, 1, width=576, height=1024)
        await delivered(store, BOB, 2, 2, width=1008, height=1008)
        failed = await store.reserve(member(BOB), params(2), bot_default_limit=DEFAULT, now=NOON)
        await store.fail(failed.generation_id, error_class="server_error", now=NOON)

        want = expected_usd((1024, 768, 3), (576, 1024, 1), (1008, 1008, 2))
        (today,) = await store.daily_totals(GUILD, days=1, now=NOON)
        assert usd(today.cost_pico_usd) == want  # not a float: every digit
        records = await store.export_usage(GUILD, days=1, now=NOON)
        costs = {r.id: r.cost_pico_usd for r in records}
        assert costs[failed.generation_id] == 0
        assert sum(Decimal(exact_usd(c or 0)) for c in costs.values()) == want
        top = {m.user_id: m.cost_pico_usd for m in await store.top_members(GUILD, days=1, now=NOON)}
        assert usd(top[ALICE]) == expected_usd((1024, 768, 3), (576, 1024, 1))
        assert usd(top[BOB]) == expected_usd((1008, 1008, 2))
        assert dollars(today.cost_pico_usd) == f"${want.quantize(Decimal('0.01'))}"

    async def test_without_a_price_no_cost_is_recorded(self, store: Store) -> None:
        generation = await delivered(store, ALICE, 1, 1)
        record = await store.get_generation(generation)
        assert record is not None and record.cost_pico_usd is None
        (today,) = await store.daily_totals(GUILD, days=1, now=NOON)
        assert today.cost_pico_usd == 0


class TestLogChannelSetting:
    async def test_set_audited_and_switched_off(self, store: Store) -> None:
        assert await store.set_log_channel(GUILD, 555, actor_id=MOD) is None
        assert (await store.guild_policy(GUILD)).log_channel_id == 555
        assert await store.set_log_channel(GUILD, None, actor_id=MOD) == 555
        assert (await store.guild_policy(GUILD)).log_channel_id is None
        actions = [entry.action for entry in await store.audit_log(GUILD)]
        assert actions == [AuditAction.LOG_CHANNEL, AuditAction.LOG_CHANNEL]


class TestPruning:
    async def test_pruning_changes_no_statistic_and_keeps_today_exact(
        self, backend: StoreBackend
    ) -> None:
        store = await backend.open(price=PRICE)
        old = NOON - timedelta(days=200)
        for day in range(5):  # five old days, mixed members, sizes, outcomes
            at = old + timedelta(days=day)
            await delivered(store, ALICE, 2, 2, at=at)
            await delivered(store, BOB, 3, 1, width=512, height=512, at=at)
            failed = await store.reserve(member(BOB), params(1), bot_default_limit=DEFAULT, now=at)
            await store.fail(failed.generation_id, error_class="server_error", now=at)
        parent = await delivered(store, ALICE, 1, 1, at=old)
        child = await store.reserve(
            member(ALICE), params(1), bot_default_limit=DEFAULT, now=NOON, parent_id=parent
        )  # a re-roll of an old result, still in flight today
        stuck = await store.reserve(member(BOB), params(1), bot_default_limit=DEFAULT, now=old)
        await delivered(store, ALICE, 2, 2)  # today

        before_days = await store.daily_totals(GUILD, days=366, now=NOON)
        before_top = await store.top_members(GUILD, days=366, now=NOON)
        before_used = await store.usage(member(ALICE), bot_default_limit=DEFAULT, now=NOON)

        cutoff = NOON - timedelta(days=180)
        batches = []
        while True:
            batch = await store.prune_generations(cutoff, limit=4)
            batches.append(batch.deleted)
            if not batch.more:
                break
        assert sum(batches) == 16 and max(batches) == 4  # small batches, every old settled row

        assert await store.daily_totals(GUILD, days=366, now=NOON) == before_days
        assert await store.top_members(GUILD, days=366, now=NOON) == before_top
        after_used = await store.usage(member(ALICE), bot_default_limit=DEFAULT, now=NOON)
        assert after_used == before_used
        assert await store.get_generation(parent) is None
        kept = await store.get_generation(child.generation_id)
        assert kept is not None and kept.parent_id is None  # the re-roll lives on
        in_flight = await store.get_generation(stuck.generation_id)
        assert in_flight is not None and in_flight.status is GenerationStatus.QUEUED
        assert all(
            r.created_at >= cutoff
            for r in await store.export_usage(GUILD, days=366, now=NOON)
            if r.status is not GenerationStatus.QUEUED
        )
        # Settling the re-roll afterwards still charges exactly today.
        await store.complete(child.generation_id, delivered=1, latency_ms=1, now=NOON)
        final = await store.usage(member(ALICE), bot_default_limit=DEFAULT, now=NOON)
        assert final.used == before_used.used

    async def test_audit_entries_older_than_the_cutoff_go(self, store: Store) -> None:
        await store.set_default_limit(GUILD, 3, actor_id=MOD)
        batch = await store.prune_audit_log(datetime.now(NOON.tzinfo) - timedelta(days=1), limit=10)
        assert batch.deleted == 0 and len(await store.audit_log(GUILD)) == 1
        batch = await store.prune_audit_log(datetime.now(NOON.tzinfo) + timedelta(days=1), limit=10)
        assert batch.deleted == 1 and await store.audit_log(GUILD) == []
