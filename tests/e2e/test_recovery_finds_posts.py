"""A result that went out as a channel message is found after a crash, however busy the channel.

The member's interaction token has expired, so the result is posted as a new message in
the channel; the bot dies before it records the charge; members then chat on for more
than a page of history. The next start finds that very message (its id was recorded as
it was posted, or, if the crash came even before that, by reading the channel from the
delivery on rather than back from now), charges it once and posts nothing again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from bot.store import SqliteStore, sqlite_path_from_url
from bot.store.base import GenerationRecord, GenerationStatus
from tests.e2e.harness import Harness, start_harness
from tests.emulators.discord import Member, Message, Permission

pytestmark = pytest.mark.asyncio(loop_scope="module")

TOKEN_LIFETIME = 15 * 60
CHATTER = 120  # more than one page (100) of channel history


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    harness = await start_harness(tmp_path_factory.mktemp("recovery"))
    try:
        yield harness
    finally:
        harness.api.release()
        await harness.close()


def has_image(message: Message) -> bool:
    return bool(message.attachments)


async def record_of(world: Harness, prompt: str) -> GenerationRecord:
    store = await SqliteStore.open(sqlite_path_from_url(world.settings.database_url))
    try:
        records = await store.export_usage(world.guild.id, days=1)
    finally:
        await store.close()
    return next(r for r in records if r.params.prompt == prompt)


async def posted_then_crashed(world: Harness, member: Member, prompt: str, hang: str) -> Message:
    """The result goes out in the channel (token expired); the bot hangs in ``hang`` (a
    service method) and is then cut off as by a crash. Returns the posted message."""
    service = world.running_bot.generations
    stuck = asyncio.Event()

    async def crash_here(*_: object, **__: object) -> None:
        stuck.set()
        await asyncio.Event().wait()  # never returns: the "crash" comes first

    setattr(service, hang, crash_here)
    world.api.hold()
    it = await world.discord.run_slash_command(member, world.general, "imagine", prompt=prompt)
    await it.wait_for_original(lambda m: "Generating" in m.content, timeout=10)
    world.discord.clock.advance(TOKEN_LIFETIME + 1)
    world.api.release()
    posted = await world.discord.wait_for_message(
        world.general, lambda m: has_image(m) and member.mention in m.content, timeout=15
    )
    await asyncio.wait_for(stuck.wait(), timeout=15)
    await world.running_bot.flow.shutdown(0)
    await world.stop_bot()
    return posted


async def chat_on(world: Harness) -> None:
    chatty = world.member("chatty")
    for n in range(CHATTER):
        await world.discord.send_message(chatty, world.general, f"chatter {n}")


async def assert_charged_once_and_not_reposted(
    world: Harness, member: Member, prompt: str, posted: Message
) -> None:
    requests_before = len(world.api.requests)
    await world.start_bot()  # resumes (here: recognises and charges) before it serves anyone
    settled = await record_of(world, prompt)
    assert settled.status is GenerationStatus.SUCCEEDED and settled.delivered == 1
    assert settled.message_id == posted.id
    assert len(world.api.requests) == requests_before, "not generated (nor billed) again"
    results = [m for m in world.discord.messages(world.general) if prompt in m.text()]
    assert results == [posted], "posted once"
    assert await world.used_today(member) == 1


async def test_a_channel_post_is_found_by_its_recorded_id(world: Harness) -> None:
    member = world.member("late")
    posted = await posted_then_crashed(world, member, "a comet seen late", hang="delivered")
    record = await record_of(world, "a comet seen late")
    assert record.status is GenerationStatus.RUNNING
    assert record.posted_message_id == posted.id, "recorded as it was posted"
    await chat_on(world)
    await assert_charged_once_and_not_reposted(world, member, "a comet seen late", posted)


async def test_a_channel_post_whose_id_never_got_recorded_is_still_found(
    world: Harness,
) -> None:
    member = world.member("later")
    service = world.running_bot.generations

    async def crash_before_recording(*_: object, **__: object) -> None:
        return None  # as if the process died between Discord's answer and the write

    service.record_post = crash_before_recording  # type: ignore[method-assign]
    posted = await posted_then_crashed(world, member, "a comet seen later", hang="delivered")
    assert (await record_of(world, "a comet seen later")).posted_message_id is None
    await chat_on(world)
    await assert_charged_once_and_not_reposted(world, member, "a comet seen later", posted)


async def test_a_recorded_post_that_cannot_be_read_back_is_still_charged(
    world: Harness,
) -> None:
    """The post's id was recorded once Discord answered, so it landed: the bot no longer
    being allowed to read the channel's history (403) after the crash does not make the
    next start refund a result the member has."""
    member = world.member("unreadable")
    posted = await posted_then_crashed(world, member, "a comet behind glass", hang="delivered")
    assert (await record_of(world, "a comet behind glass")).posted_message_id == posted.id
    world.general.set_permissions(world.guild.me, deny=Permission.READ_MESSAGE_HISTORY)
    try:
        await assert_charged_once_and_not_reposted(world, member, "a comet behind glass", posted)
    finally:
        world.general.set_permissions(world.guild.me)
