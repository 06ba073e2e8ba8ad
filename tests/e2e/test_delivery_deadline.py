"""Delivery has a deadline: no Discord call holds a member's image forever.

Discord (here, its emulator) stalls a request: a 429 asking to wait an hour, a
connection that never answers, an answer lost after the change was made. Past the
bound, the bot falls back to a channel post, or refunds and says so, in private if
the channel is closed to it. One delivery, one charge, and the progress line does
not stay on "Generating…" wherever it can still be edited.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from cogs.common.flow import HISTORY_SEARCHED
from tests.e2e.harness import Harness
from tests.emulators.discord import InteractionRecord, Member, Message, Permission

pytestmark = pytest.mark.asyncio(loop_scope="module")

BOUND = 0.5
"""The bound on one Discord call in these tests (60 s in production)."""

RESULT_EDIT = "PATCH /api/v10/webhooks/"
TOKEN_LIFETIME = 15 * 60
NOT_CHARGED = "You were not charged for it."


@pytest_asyncio.fixture(loop_scope="module", autouse=True)
async def short_bound(world: Harness) -> AsyncIterator[None]:
    flow = world.running_bot.flow
    bound, flow.call_timeout = flow.call_timeout, BOUND
    yield
    flow.call_timeout = bound
    world.api.release()
    world.discord.release_stalls()


def has_image(message: Message) -> bool:
    return bool(message.attachments)


async def generating(world: Harness, member: Member, prompt: str) -> InteractionRecord:
    """``member`` asks; returns once the progress line shows and the API holds the answer."""
    world.api.hold()
    it = await world.discord.run_slash_command(member, world.general, "imagine", prompt=prompt)
    await it.wait_for_original(lambda m: "Generating" in m.content, timeout=10)
    return it


def posts_of(world: Harness, prompt: str) -> list[Message]:
    return [m for m in world.discord.messages(world.general) if prompt in m.text()]


async def test_an_absurd_retry_after_on_the_result_falls_back_to_a_channel_post(
    world: Harness,
) -> None:
    member = world.member("ratelimited")
    it = await generating(world, member, "a patient heron")
    world.discord.inject_rate_limit(RESULT_EDIT, retry_after=3600)
    world.api.release()

    posted = await world.discord.wait_for_message(
        world.general, lambda m: has_image(m) and member.mention in m.content, timeout=10
    )
    assert "a patient heron" in posted.embeds[0]["description"]
    line = await it.wait_for_original(lambda m: "Generating" not in m.content, timeout=10)
    assert posted.jump_url in line.content, "the progress line points at the result"
    assert len(posts_of(world, "a patient heron")) == 1, "one delivery"
    assert await world.used_today(member) == 1, "one charge"
    assert world.discord.rate_limited_count == 1


async def test_a_result_edit_that_never_answers_falls_back_to_a_channel_post(
    world: Harness,
) -> None:
    member = world.member("hung")
    it = await generating(world, member, "a silent bell")
    world.discord.stall(RESULT_EDIT)
    world.api.release()

    posted = await world.discord.wait_for_message(
        world.general, lambda m: has_image(m) and member.mention in m.content, timeout=10
    )
    await world.discord.wait_until_stalled(1)
    line = await it.wait_for_original(lambda m: posted.jump_url in m.content, timeout=10)
    assert not line.attachments, "the stalled edit never took effect"
    assert len(posts_of(world, "a silent bell")) == 1
    assert await world.used_today(member) == 1
    world.discord.assert_no_errors()


async def test_a_result_edit_whose_answer_is_lost_is_not_posted_twice(world: Harness) -> None:
    member = world.member("lost-answer")
    it = await generating(world, member, "an echo in a canyon")
    world.discord.stall(RESULT_EDIT, after_handling=True)
    world.api.release()

    result = await it.wait_for_original(has_image, timeout=10)
    await world.discord.wait_until_stalled(1)
    await world.running_bot.flow.wait_until_idle()
    assert "an echo in a canyon" in result.embeds[0]["description"]
    assert posts_of(world, "an echo in a canyon") == [result], "found where it landed, not reposted"
    assert await world.used_today(member) == 1
    world.discord.assert_no_errors()


async def test_a_closed_channel_after_the_token_expired_is_refunded_and_told_in_private(
    world: Harness,
) -> None:
    member = world.member("far-away")
    quiet = world.guild.add_channel("quiet")
    world.api.hold()
    it = await world.discord.run_slash_command(member, quiet, "imagine", prompt="a locked door")
    await it.wait_for_original(lambda m: "Generating" in m.content, timeout=10)
    quiet.set_permissions(world.guild.me, deny=Permission.SEND_MESSAGES)
    world.discord.clock.advance(TOKEN_LIFETIME + 1)  # the API took over 15 minutes
    world.api.release()

    told = await world.discord.wait_for_direct_message(
        member, lambda m: NOT_CHARGED in m.content, timeout=10
    )
    assert quiet.mention in told.content, "the member learns which request this was"
    assert "could not post it" in told.content
    assert not [m for m in world.discord.messages(quiet) if has_image(m)]
    assert await world.used_today(member) == 0, "refunded"
    await world.running_bot.flow.wait_until_idle()
    assert world.running_bot.generations.jobs_in_memory() == 0
    assert {e.code for e in world.discord.errors} <= {50027, 50013}


async def test_a_channel_post_whose_answer_is_lost_is_charged_not_refunded(
    world: Harness,
) -> None:
    """The token has expired, the channel post goes out, Discord's answer never comes: the
    member has the image, so it is found in the channel and charged once."""
    member = world.member("unanswered")
    it = await generating(world, member, "a letter without reply")
    world.discord.clock.advance(TOKEN_LIFETIME + 1)
    world.discord.stall("POST /api/v10/channels/", after_handling=True)
    world.api.release()

    posted = await world.discord.wait_for_message(
        world.general, lambda m: has_image(m) and member.mention in m.content, timeout=10
    )
    await world.discord.wait_until_stalled(1)
    await world.running_bot.flow.wait_until_idle()
    assert posts_of(world, "a letter without reply") == [posted], "posted once"
    assert not [m for m in world.discord.messages(world.general) if NOT_CHARGED in m.content]
    assert await world.used_today(member) == 1, "charged: the member has it"
    assert it.original is not None and not it.original.attachments


async def test_a_stalled_channel_post_is_found_above_a_busy_channel(world: Harness) -> None:
    """More chatter than one search reads came in just before the post: the post, whose
    answer was lost, is still found (newest first, down to the acknowledgement) and
    charged once rather than refunded."""
    member = world.member("crowded")
    it = await generating(world, member, "a voice in a crowd")
    world.discord.clock.advance(TOKEN_LIFETIME + 1)
    chatty = world.member("chatty")
    for n in range(HISTORY_SEARCHED + 20):
        await world.discord.send_message(chatty, world.general, f"chatter {n}")
    world.discord.stall("POST /api/v10/channels/", after_handling=True)
    world.api.release()

    posted = await world.discord.wait_for_message(
        world.general, lambda m: has_image(m) and member.mention in m.content, timeout=10
    )
    await world.discord.wait_until_stalled(1)
    await world.running_bot.flow.wait_until_idle()
    assert posts_of(world, "a voice in a crowd") == [posted], "posted once"
    assert not [m for m in world.discord.messages(world.general) if NOT_CHARGED in m.content]
    assert await world.used_today(member) == 1, "charged: the member has it"
    assert it.original is not None and not it.original.attachments


async def test_shutdown_does_not_wait_out_a_stalled_progress_edit(world: Harness) -> None:
    """A progress edit hangs when shutdown comes: shutdown cancels it instead of waiting
    for as long as one Discord call may take (here 30 s, 60 s in production)."""
    flow = world.running_bot.flow
    flow.call_timeout = 30.0
    world.api.hold()
    world.discord.stall(RESULT_EDIT)
    member = world.member("leaving")
    await world.discord.run_slash_command(member, world.general, "imagine", prompt="a last light")
    await world.discord.wait_until_stalled(1)
    started = asyncio.get_running_loop().time()
    await asyncio.wait_for(flow.shutdown(0), timeout=10)
    assert asyncio.get_running_loop().time() - started < 5, "within the grace, not the bound"
    world.discord.release_stalls()
    world.api.release()
    await world.restart_bot()  # the job was left queued: the next start delivers it
    world.running_bot.flow.call_timeout = BOUND
    posted = await world.discord.wait_for_message(
        world.general, lambda m: has_image(m) and "a last light" in m.text(), timeout=15
    )
    assert len(posts_of(world, "a last light")) == 1 and posted.attachments
    assert await world.used_today(member) == 1
