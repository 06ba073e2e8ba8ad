"""The persistent job queue: limits on what is in flight, and delivery claimed exactly once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.store import GenerationNotFound, InteractionRef, JobLimitReached, JobLimits, SqliteStore
from bot.store.base import GenerationStateError, Lease
from tests.core.conftest import ALICE, BOB, NOON, member, params


async def test_a_member_cannot_have_more_than_their_share_in_flight(store: SqliteStore) -> None:
    limits = JobLimits(per_member=2)
    first = await store.reserve(member(), params(), bot_default_limit=50, job_limits=limits)
    await store.reserve(member(), params(), bot_default_limit=50, job_limits=limits)
    with pytest.raises(JobLimitReached) as caught:
        await store.reserve(member(), params(), bot_default_limit=50, job_limits=limits)
    assert caught.value.scope == "member" and caught.value.limit == 2
    await store.reserve(member(BOB), params(), bot_default_limit=50, job_limits=limits)
    await store.complete(first.generation_id, delivered=1, latency_ms=5)
    await store.reserve(member(), params(), bot_default_limit=50, job_limits=limits)


async def test_a_full_queue_refuses_everyone_until_a_job_finishes(store: SqliteStore) -> None:
    limits = JobLimits(queue=3)
    held = [
        await store.reserve(member(user), params(), bot_default_limit=50, job_limits=limits)
        for user in (ALICE, BOB, BOB + 1)
    ]
    with pytest.raises(JobLimitReached) as caught:
        await store.reserve(member(BOB + 2), params(), bot_default_limit=50, job_limits=limits)
    assert caught.value.scope == "queue"
    await store.fail(held[0].generation_id, error_class="upstream")
    await store.reserve(member(BOB + 2), params(), bot_default_limit=50, job_limits=limits)


async def test_racing_requests_never_exceed_the_per_member_limit(store: SqliteStore) -> None:
    limits = JobLimits(per_member=2)
    outcomes = await asyncio.gather(
        *(
            store.reserve(member(), params(), bot_default_limit=100, job_limits=limits)
            for _ in range(30)
        ),
        return_exceptions=True,
    )
    accepted = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, JobLimitReached)]
    assert len(accepted) == 2 and len(refused) == 28


async def test_in_flight_lists_the_queue_in_arrival_order_with_how_to_reach_the_member(
    store: SqliteStore,
) -> None:
    expires = NOON + timedelta(minutes=15)
    first = await store.reserve(
        member(),
        params(),
        bot_default_limit=50,
        now=NOON,
        interaction=InteractionRef(token="tok-123", expires_at=expires),
    )
    second = await store.reserve(member(BOB), params(), bot_default_limit=50, now=NOON)
    queue = await store.in_flight()
    assert [r.id for r in queue] == [first.generation_id, second.generation_id]
    assert queue[0].interaction_token == "tok-123"
    assert queue[0].token_expires_at == expires
    assert queue[1].interaction_token is None
    assert "tok-123" not in repr(queue[0])
    assert await store.in_flight(guild_id=12345) == []


async def test_delivery_is_claimed_once_and_the_token_forgotten_when_settled(
    store: SqliteStore,
) -> None:
    held = await store.reserve(
        member(),
        params(),
        bot_default_limit=50,
        interaction=InteractionRef(token="secret", expires_at=NOON),
    )
    assert await store.begin_delivery(held.generation_id) is True
    assert await store.begin_delivery(held.generation_id) is False
    await store.complete(held.generation_id, delivered=1, latency_ms=10)
    record = await store.get_generation(held.generation_id)
    assert record is not None and record.delivery_started_at is not None
    assert record.interaction_token is None
    assert await store.begin_delivery(held.generation_id) is False
    assert await store.in_flight() == []


async def test_the_way_to_the_member_is_stored_with_the_reservation_itself(
    store: SqliteStore,
) -> None:
    """A process that dies right after acknowledging must still leave the token behind."""
    expires = NOON + timedelta(minutes=15)
    held = await store.reserve(
        member(),
        params(),
        bot_default_limit=50,
        interaction=InteractionRef(token="tok-at-reserve", expires_at=expires),
    )
    (record,) = await store.in_flight()
    assert record.id == held.generation_id
    assert record.interaction_token == "tok-at-reserve" and record.token_expires_at == expires


async def test_requests_arriving_together_fail_or_succeed_one_by_one(store: SqliteStore) -> None:
    """Reservations made at the same instant may share a transaction; one bad one (a parent
    that does not exist) must not take the others down with it."""
    good = [store.reserve(member(ALICE + n), params(), bot_default_limit=5) for n in range(5)]
    bad = store.reserve(member(BOB), params(), bot_default_limit=5, parent_id=987654)
    outcomes = await asyncio.gather(*good, bad, return_exceptions=True)
    assert all(not isinstance(o, BaseException) for o in outcomes[:5])
    assert isinstance(outcomes[5], GenerationNotFound)
    assert len(await store.in_flight()) == 5


async def test_a_channel_post_is_recorded_only_while_its_delivery_is_under_way(
    store: SqliteStore,
) -> None:
    held = await store.reserve(member(), params(), bot_default_limit=50)
    with pytest.raises(GenerationStateError):
        await store.record_post(held.generation_id, 1234)  # not being delivered yet
    assert await store.begin_delivery(held.generation_id) is True
    await store.record_post(held.generation_id, 1234)
    (record,) = await store.in_flight()
    assert record.posted_message_id == 1234
    await store.complete(held.generation_id, delivered=1, latency_ms=10, message_id=1234)
    with pytest.raises(GenerationStateError):
        await store.record_post(held.generation_id, 99)  # settled: the row says so
    with pytest.raises(GenerationNotFound):
        await store.record_post(987654, 1)


async def test_a_delivery_claim_is_won_again_by_its_owner_only(store: SqliteStore) -> None:
    """A retry after a lost answer to a claim that committed must not read "already
    claimed": the owner the row is leased to wins again; anybody else still loses."""
    lease = Lease("this-process", NOON + timedelta(minutes=1))
    held = await store.reserve(member(), params(), bot_default_limit=50, lease=lease)
    assert await store.begin_delivery(held.generation_id, owner="this-process") is True
    first = await store.get_generation(held.generation_id)
    assert await store.begin_delivery(held.generation_id, owner="this-process") is True
    assert await store.begin_delivery(held.generation_id, owner="another-process") is False
    assert await store.begin_delivery(held.generation_id) is False
    again = await store.get_generation(held.generation_id)
    assert first is not None and again is not None
    assert again.delivery_started_at == first.delivery_started_at, "the first claim's time"
    await store.complete(held.generation_id, delivered=1, latency_ms=10)
    assert await store.begin_delivery(held.generation_id, owner="this-process") is False
