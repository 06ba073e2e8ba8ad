"""Under load and across restarts: limits, a visible queue, cancelling, draining, resuming.

One slot (MAX_CONCURRENT_JOBS=1) and a held image API make every state reachable
without timing: a held job is "running", the jobs behind it are "waiting".
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiosqlite
import pytest
import pytest_asyncio

from bot.store import SqliteStore, sqlite_path_from_url
from bot.store.base import GenerationRecord, GenerationStatus
from tests.e2e.harness import Harness, start_harness
from tests.emulators.discord import InteractionRecord, Member, Message

pytestmark = pytest.mark.asyncio(loop_scope="module")

ENV = {
    "MAX_CONCURRENT_JOBS": "1",
    "MAX_JOBS_PER_USER": "2",
    "QUEUE_LIMIT": "4",
    "SHUTDOWN_GRACE_SECONDS": "10",
}


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def busy(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    harness = await start_harness(tmp_path_factory.mktemp("queue"), ENV)
    try:
        yield harness
    finally:
        harness.api.release()
        await harness.close()


@pytest_asyncio.fixture(loop_scope="module", autouse=True)
async def settled_queue(busy: Harness) -> AsyncIterator[None]:
    """Every test starts with the API answering and ends with nothing left in flight."""
    busy.api.release()
    if busy.bot is None:
        await busy.start_bot()
    busy.discord.clear_records()
    yield
    busy.api.release()


def has_image(message: Message) -> bool:
    return bool(message.attachments)


async def imagine(world: Harness, member: Member, prompt: str) -> InteractionRecord:
    it = await world.discord.run_slash_command(member, world.general, "imagine", prompt=prompt)
    await it.acknowledged(timeout=10)
    return it


async def used_today(world: Harness, member: Member) -> int:
    it = await world.discord.run_slash_command(member, world.general, "usage")
    reply = await it.wait_for_original(timeout=10)
    assert reply.ephemeral
    return int(reply.embeds[0]["description"].split("**")[1])


async def test_a_waiting_job_shows_its_place_and_its_owner_can_cancel_it_for_free(
    busy: Harness,
) -> None:
    busy.api.hold()
    first, owner, stranger = busy.member("runner"), busy.member("waiter"), busy.member("nosy")
    running = await imagine(busy, first, "a lighthouse")
    await busy.api.wait_for_requests(len(busy.api.requests))
    waiting = await imagine(busy, owner, "a harbour at dawn")
    line = await waiting.wait_for_original(lambda m: "number 1 in line" in m.content, timeout=10)
    assert line.button(label="Cancel") is not None

    refused = await busy.discord.press_button(stranger, line, label="Cancel")
    assert "Only the member who asked" in (await refused.wait_for_original(timeout=10)).content

    pressed = await busy.discord.press_button(owner, line, label="Cancel")
    reply = await pressed.wait_for_original(timeout=10)
    assert reply.ephemeral and "Cancelled" in reply.content
    gone = await waiting.wait_for_original(lambda m: "Cancelled before" in m.content, timeout=10)
    assert gone.buttons == [] and not gone.attachments
    assert await used_today(busy, owner) == 0

    busy.api.release()
    await running.wait_for_original(has_image, timeout=15)
    assert await used_today(busy, first) == 1
    assert busy.discord.interaction_failures == []
    busy.discord.assert_no_errors()


async def test_a_member_may_have_two_requests_in_flight_and_is_told_why_not_a_third(
    busy: Harness,
) -> None:
    busy.api.hold()
    member = busy.member("eager")
    jobs = [await imagine(busy, member, f"a cat, take {n}") for n in (1, 2)]
    third = await busy.discord.run_slash_command(member, busy.general, "imagine", prompt="again")
    refusal = await third.wait_for_original(timeout=10)
    assert refusal.ephemeral and "already have 2 requests" in refusal.content
    busy.api.release()
    for job in jobs:
        await job.wait_for_original(has_image, timeout=20)
    assert await used_today(busy, member) == 2


async def test_a_full_queue_refuses_politely_until_there_is_room(busy: Harness) -> None:
    busy.api.hold()
    accepted = [await imagine(busy, busy.member("crowd"), "a crowd") for _ in range(4)]
    late = busy.member("late")
    it = await busy.discord.run_slash_command(late, busy.general, "imagine", prompt="me too")
    refusal = await it.wait_for_original(timeout=10)
    assert refusal.ephemeral and "very busy" in refusal.content
    busy.api.release()
    for job in accepted:
        await job.wait_for_original(has_image, timeout=30)
    retry = await imagine(busy, late, "me too")
    await retry.wait_for_original(has_image, timeout=15)


async def test_queue_shows_members_their_jobs_and_moderators_everything(busy: Harness) -> None:
    busy.api.hold()
    first, second = busy.member("first"), busy.member("second")
    running = await imagine(busy, first, "a red kite")
    waiting = await imagine(busy, second, "a blue kite")
    await waiting.wait_for_original(lambda m: "in line" in m.content, timeout=10)

    mine = await busy.discord.run_slash_command(second, busy.general, "queue")
    text = (await mine.wait_for_original(timeout=10)).text()
    assert "number 1 in line" in text and "blue kite" in text and "red kite" not in text

    everything = await busy.discord.run_slash_command(busy.moderator, busy.general, "queue")
    text = (await everything.wait_for_original(timeout=10)).text()
    assert "red kite" in text and "blue kite" in text and second.mention in text
    busy.api.release()
    for job in (running, waiting):
        await job.wait_for_original(has_image, timeout=20)


async def test_shutdown_finishes_the_running_job_and_the_next_start_delivers_the_queued_one(
    busy: Harness,
) -> None:
    busy.api.hold()
    first, second, newcomer = busy.member("early"), busy.member("queued"), busy.member("new")
    running = await imagine(busy, first, "a stone bridge")
    queued = await imagine(busy, second, "a wooden bridge")
    await queued.wait_for_original(lambda m: "in line" in m.content, timeout=10)

    service = busy.running_bot.generations
    stopping = asyncio.create_task(busy.stop_bot())
    await asyncio.wait_for(service.wait_until_draining(), timeout=10)
    refused = await busy.discord.run_slash_command(
        newcomer, busy.general, "imagine", prompt="hello"
    )
    assert "restarting" in (await refused.wait_for_original(timeout=10)).content

    busy.api.release()  # the running job finishes within the grace period...
    await running.wait_for_original(has_image, timeout=15)
    await stopping
    assert queued.original is not None and not has_image(queued.original)  # ...the queued one waits

    await busy.start_bot()  # ...and is delivered by the next process, exactly once
    result = await queued.wait_for_original(has_image, timeout=15)
    assert "wooden bridge" in result.embeds[0]["description"]
    posted = [m for m in busy.discord.messages(busy.general) if "wooden bridge" in m.text()]
    assert len(posted) == 1
    assert await used_today(busy, second) == 1
    assert busy.discord.interaction_failures == []


async def test_a_job_cut_off_mid_generation_is_rerun_after_the_token_expired_in_the_channel(
    busy: Harness,
) -> None:
    busy.api.hold()
    member = busy.member("patient")
    job = await imagine(busy, member, "a slow glacier")
    await job.wait_for_original(lambda m: "Generating" in m.content, timeout=10)
    bot = busy.running_bot
    await bot.flow.shutdown(0)  # no grace: the running job is cut off, as by a crash
    await busy.stop_bot()
    record = await _record_of(busy, "a slow glacier")
    assert record.status is GenerationStatus.RUNNING  # still charged-as-reserved, not lost

    busy.discord.clock.advance(16 * 60)  # the member's interaction token has expired
    busy.api.release()
    await busy.start_bot()
    posted = await busy.discord.wait_for_message(
        busy.general, lambda m: has_image(m) and member.mention in m.content, timeout=15
    )
    assert "a slow glacier" in posted.embeds[0]["description"]
    await busy.running_bot.flow.wait_until_idle()  # the charge is written after the post
    settled = await _record_of(busy, "a slow glacier")
    assert settled.status is GenerationStatus.SUCCEEDED and settled.delivered == 1
    assert await used_today(busy, member) == 1


async def test_a_private_job_resumed_after_its_token_expired_is_refunded_without_the_api(
    busy: Harness,
) -> None:
    busy.api.hold()
    member = busy.member("too-late")
    job = await busy.discord.run_slash_command(
        member, busy.general, "imagine", prompt="a lost letter", private=True
    )
    await job.wait_for_original(lambda m: "Generating" in m.content, timeout=10)
    await busy.running_bot.flow.shutdown(0)  # cut off, as by a crash
    await busy.stop_bot()
    # The next start comes after the member's 15 minutes: only that token could deliver.
    gone = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    async with aiosqlite.connect(sqlite_path_from_url(busy.settings.database_url)) as db:
        await db.execute(
            "UPDATE generations SET token_expires_at = ? WHERE prompt = ?", (gone, "a lost letter")
        )
        await db.commit()
    requests_before = len(busy.api.requests)
    busy.api.release()
    await busy.start_bot()
    told = await busy.discord.wait_for_direct_message(
        member, lambda m: "not charged" in m.content, timeout=15
    )
    assert "could not be made in time" in told.content
    assert len(busy.api.requests) == requests_before, "nothing generated for nobody"
    assert (await _record_of(busy, "a lost letter")).status is GenerationStatus.FAILED
    assert await used_today(busy, member) == 0
    assert not [m for m in busy.discord.messages(busy.general) if "a lost letter" in m.text()]


async def _record_of(world: Harness, prompt: str) -> GenerationRecord:
    """What the usage log says about the generation with this prompt."""
    store = await SqliteStore.open(sqlite_path_from_url(world.settings.database_url))
    try:
        records = await store.export_usage(world.guild.id, days=1)
    finally:
        await store.close()
    return next(r for r in records if r.params.prompt == prompt)


async def test_a_crash_between_posting_and_charging_is_neither_reposted_nor_refunded(
    busy: Harness,
) -> None:
    """The bot dies right after the image reached the member, before it recorded the charge,
    and the channel then moves on by 120 messages: the next start finds the posted result
    by its id, charges it once, and posts nothing again."""
    member, chatty = busy.member("lucky"), busy.member("chatty")
    service = busy.running_bot.generations
    stuck = asyncio.Event()

    async def crash_before_charging(*_: object, **__: object) -> None:
        stuck.set()
        await asyncio.Event().wait()  # never returns: the "crash" comes first

    service.delivered = crash_before_charging  # type: ignore[method-assign]
    job = await imagine(busy, member, "a once-only comet")
    await job.wait_for_original(has_image, timeout=15)
    await asyncio.wait_for(stuck.wait(), timeout=15)
    await busy.running_bot.flow.shutdown(0)
    await busy.stop_bot()
    assert (await _record_of(busy, "a once-only comet")).status is GenerationStatus.RUNNING

    for n in range(120):
        await busy.discord.send_message(chatty, busy.general, f"chatter {n}")
    requests_before = len(busy.api.requests)
    await busy.start_bot()  # resumes (here: recognises and charges) before it serves anyone
    settled = await _record_of(busy, "a once-only comet")
    assert settled.status is GenerationStatus.SUCCEEDED and settled.delivered == 1
    assert len(busy.api.requests) == requests_before  # not generated again
    posted = [m for m in busy.discord.messages(busy.general) if "once-only comet" in m.text()]
    assert len(posted) == 1 and has_image(posted[0])
    assert await used_today(busy, member) == 1


async def test_a_cancel_the_database_did_not_take_is_never_generated_later(
    busy: Harness,
) -> None:
    """The member cancels and reads "Cancelled"; the database refuses the refund on every
    try. The sweep writes the cancel later: the job is never run, charged or posted."""
    bot = busy.running_bot
    bot.generations.retry_delays = (0.0, 0.0)
    store = bot.store
    real_cancel = store.cancel
    down = True

    async def database_away(*args: Any, **kwargs: Any) -> None:
        if down:
            raise OSError("disk I/O error")
        await real_cancel(*args, **kwargs)

    store.cancel = database_away  # type: ignore[method-assign]
    try:
        busy.api.hold()
        first, owner = busy.member("runner-2"), busy.member("canceller")
        running = await imagine(busy, first, "a lighthouse at noon")
        await busy.api.wait_for_requests(len(busy.api.requests))
        waiting = await imagine(busy, owner, "a harbour never drawn")
        line = await waiting.wait_for_original(
            lambda m: "number 1 in line" in m.content, timeout=10
        )
        pressed = await busy.discord.press_button(owner, line, label="Cancel")
        assert "Cancelled" in (await pressed.wait_for_original(timeout=10)).content
        await waiting.wait_for_original(lambda m: "Cancelled before" in m.content, timeout=10)
        busy.api.release()
        await running.wait_for_original(has_image, timeout=15)
        await asyncio.wait_for(bot.flow.wait_until_idle(), timeout=10)

        down = False
        requests_before = len(busy.api.requests)
        await bot.flow.resume_all(bot)
        await bot.flow.resume_all(bot)
        await asyncio.wait_for(bot.flow.wait_until_idle(), timeout=15)
    finally:
        store.cancel = real_cancel  # type: ignore[method-assign]
    assert len(busy.api.requests) == requests_before, "the cancelled job never reaches the API"
    assert (await _record_of(busy, "a harbour never drawn")).status is GenerationStatus.CANCELLED
    assert await used_today(busy, owner) == 0, "as the member was told"
    posts = [m for m in busy.discord.messages(busy.general) if "harbour never drawn" in m.text()]
    assert not [m for m in posts if m.attachments], "nothing posted"
