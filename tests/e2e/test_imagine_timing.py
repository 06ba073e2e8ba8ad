"""Time as a member feels it: an instant acknowledgement, visible progress, and a result
that still arrives when the API is slow, when the interaction token has expired, or
when fifty members ask at the same moment."""

from __future__ import annotations

import asyncio

import pytest

from cogs.common.flow import FIRST_PROGRESS_AFTER
from tests.e2e.harness import Harness
from tests.emulators.discord import InteractionRecord, Message
from tests.emulators.siraya import Fault

pytestmark = pytest.mark.asyncio(loop_scope="module")

TOKEN_LIFETIME = 15 * 60


def is_progress(message: Message) -> bool:
    return "Generating" in message.content and not message.attachments


async def test_a_job_that_starts_at_once_stays_on_thinking_until_it_takes_a_while(
    world: Harness,
) -> None:
    """No "Generating… 0 s" edit that tells nothing Discord's "thinking…" does not; a
    job that takes its time still says it is being generated."""
    flow = world.running_bot.flow
    flow.progress_after = FIRST_PROGRESS_AFTER  # the bot's own default
    try:
        quick = await world.discord.run_slash_command(
            world.member("brisk"), world.general, "imagine", prompt="a quick sketch"
        )
        result = await quick.wait_for_original(lambda m: bool(m.attachments), timeout=15)
        assert not any("Generating" in v.content for v in result.history), "first edit: the result"
        flow.progress_after = 0.2  # a "while", shortened
        world.api.hold()
        slow = await world.discord.run_slash_command(
            world.member("patient"), world.general, "imagine", prompt="a slow dusk"
        )
        line = await slow.wait_for_original(is_progress, timeout=10)
        assert not line.components, "running, so no Cancel button"
    finally:
        flow.progress_after = world.progress_after
        world.api.release()
    await slow.wait_for_original(lambda m: bool(m.attachments), timeout=15)


async def test_a_slow_api_still_gets_an_instant_acknowledgement(world: Harness) -> None:
    member = world.member("eager")
    world.api.hold()  # the API is "working" until released: as slow as it gets
    try:
        it = await world.discord.run_slash_command(
            member, world.general, "imagine", prompt="a slow sunrise", size="square"
        )
        await it.acknowledged(timeout=3)
        assert it.ack_latency is not None and it.ack_latency < 1.0, it.ack_latency
        assert not it.ephemeral
        progress = await it.wait_for_original(is_progress, timeout=10)
        assert "Generating 1 image" in progress.content
        assert await world.used_today(member) == 1, "held for the member while it runs"
    finally:
        world.api.release()
    result = await it.wait_for_original(lambda m: bool(m.attachments), timeout=15)
    assert result.id == progress.id, "the progress line becomes the result"
    assert result.content == ""
    assert world.discord.interaction_failures == []
    world.discord.assert_no_errors()


async def test_a_result_after_the_token_expired_is_posted_in_the_channel(world: Harness) -> None:
    member = world.member("lateness")
    world.api.hold()
    try:
        it = await world.discord.run_slash_command(
            member, world.general, "imagine", prompt="a very slow painting", size="square", count=2
        )
        await it.acknowledged(timeout=3)
        progress = await it.wait_for_original(is_progress, timeout=10)
        world.discord.clock.advance(TOKEN_LIFETIME + 1)  # the API took over 15 minutes
    finally:
        world.api.release()

    posted = await world.discord.wait_for_message(
        world.general, lambda m: member.mention in m.content, timeout=15, include_existing=False
    )
    assert posted.id != progress.id, "a new message: the expired token cannot edit the old one"
    assert member.id in posted.mention_ids, "the member is pinged: they would not see it otherwise"
    assert not posted.ephemeral
    assert len(posted.attachments) == 2
    assert "a very slow painting" in posted.embeds[0]["description"]
    assert [e["image"]["url"] for e in posted.embeds] == [a.url for a in posted.attachments]
    assert posted.buttons, "the result buttons come with it"
    assert await world.used_today(member) == 2
    assert world.discord.interaction_failures == []
    assert {e.code for e in world.discord.errors} <= {50027}, "only the expired token was refused"


async def test_a_refusal_after_the_token_expired_is_told_in_private(world: Harness) -> None:
    """Nothing of a refused prompt stays in the channel: the progress line is deleted with
    the bot's own token and the reason goes by direct message."""
    member = world.member("doubly-unlucky")
    world.api.fail_next(Fault.status(422))
    world.api.hold()
    try:
        it = await world.discord.run_slash_command(
            member, world.general, "imagine", prompt="a late refusal", size="square"
        )
        await it.acknowledged(timeout=3)
        await it.wait_for_original(is_progress, timeout=10)
        world.discord.clock.advance(TOKEN_LIFETIME + 1)
    finally:
        world.api.release()

    told = await world.discord.wait_for_direct_message(
        member, lambda m: "refused this prompt" in m.content, timeout=15
    )
    assert world.general.mention in told.content, "the member learns which request this was"
    assert it.original is not None and it.original.deleted, "the progress line is gone"
    assert not [m for m in world.discord.messages(world.general) if member.mention in m.content]
    assert await world.used_today(member) == 0
    assert {e.code for e in world.discord.errors} <= {50027}


async def test_fifty_members_at_once_are_all_acknowledged_and_answered(world: Harness) -> None:
    members = [world.member("crowd") for _ in range(50)]
    world.api.latency = 0.1  # 50 jobs through 4 slots: most members wait in line
    interactions: list[InteractionRecord] = await asyncio.gather(
        *(
            world.discord.run_slash_command(
                m, world.general, "imagine", prompt=f"crowd portrait {i}", size="square"
            )
            for i, m in enumerate(members)
        )
    )
    await asyncio.gather(*(it.acknowledged(timeout=5) for it in interactions))
    late = [it for it in interactions if it.ack_latency is None or it.ack_latency >= 3.0]
    assert late == [], "every member saw the bot react within Discord's 3 s"
    results = await asyncio.gather(
        *(it.wait_for_original(lambda m: bool(m.attachments), timeout=30) for it in interactions)
    )
    for i, (member, message) in enumerate(zip(members, results, strict=True)):
        assert len(message.attachments) == 1
        assert f"crowd portrait {i}" in message.embeds[0]["description"]
        assert message.embeds[0]["author"]["name"] == f"Requested by {member.name}"
    queued = [m for m in results if any("in line" in v.content for v in m.history)]
    assert len(queued) >= 10, "members who had to wait were told their place in line"
    assert world.discord.interaction_failures == []
    world.discord.assert_no_errors()
