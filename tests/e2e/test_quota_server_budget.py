"""A server-wide daily budget: all members together cannot make more images than it allows.

This module has its own world because the budget counts every image made in the
server today, so it must start from a server where nobody has generated yet.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from tests.e2e.harness import Harness
from tests.emulators.discord import InteractionRecord, Member, Message
from tests.emulators.discord.interactions import CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE

pytestmark = pytest.mark.asyncio(loop_scope="module")

WAIT = 15.0
RESET_STAMP = re.compile(r"<t:\d+:R>")


async def run(world: Harness, member: Member, path: str, /, **options: Any) -> InteractionRecord:
    it = await world.discord.run_slash_command(member, world.general, path, **options)
    await it.acknowledged(timeout=WAIT)
    return it


async def private_text(world: Harness, member: Member, path: str, /, **options: Any) -> str:
    it = await run(world, member, path, **options)
    assert it.response_type == CHANNEL_MESSAGE, it
    reply = await it.wait_for_original(timeout=WAIT)
    assert reply.ephemeral
    return reply.text()


async def imagine(world: Harness, member: Member, count: int = 1) -> Message:
    it = await run(world, member, "imagine", prompt="a field of sunflowers", count=count)
    assert it.response_type == DEFERRED_CHANNEL_MESSAGE, it
    return await it.wait_for_original(lambda m: len(m.attachments) == count, timeout=WAIT)


async def test_members_together_cannot_exceed_the_server_budget(world: Harness) -> None:
    text = await private_text(world, world.moderator, "quota set-server", limit=3)
    assert "Set the server budget to 3 images (was not set)" in text
    alice, bob, carol = world.member("alice"), world.member("bob"), world.member("carol")

    await imagine(world, alice, count=2)
    assert "Server budget today\n2 of 3 used · 1 left" in await private_text(world, bob, "usage")

    too_many = await private_text(world, bob, "imagine", prompt="two suns", count=2)
    assert "This server has only 1 image left in today's budget" in too_many
    assert "you asked for 2" in too_many
    assert RESET_STAMP.search(too_many)

    await imagine(world, bob)
    used_up = await private_text(world, carol, "imagine", prompt="one more sun")
    assert "This server has used its whole daily budget of 3 images" in used_up
    assert RESET_STAMP.search(used_up)
    assert len(world.api.requests) == 3, "refusals never reach the API (a request per image)"

    await private_text(world, world.moderator, "quota set-server")
    await imagine(world, carol)
    assert world.discord.interaction_failures == []
    world.discord.assert_no_errors()


async def test_members_racing_for_the_last_images_get_exactly_the_budget(
    world: Harness,
) -> None:
    await private_text(world, world.moderator, "quota set-server", limit=1000)
    shown = await private_text(world, world.moderator, "usage")
    budget = re.search(r"(\d+) of 1,000 used", shown)  # numbers as English writes them
    assert budget is not None
    await private_text(world, world.moderator, "quota set-server", limit=int(budget[1]) + 3)
    racers = [world.member("racer") for _ in range(8)]

    started = await asyncio.gather(
        *(
            world.discord.run_slash_command(m, world.general, "imagine", prompt="a race")
            for m in racers
        )
    )
    for it in started:
        await it.acknowledged(timeout=WAIT)
    accepted = [it for it in started if it.response_type == DEFERRED_CHANNEL_MESSAGE]
    refused = [it for it in started if it.response_type == CHANNEL_MESSAGE]
    assert (len(accepted), len(refused)) == (3, 5)
    for it in accepted:
        await it.wait_for_original(lambda m: len(m.attachments) == 1, timeout=WAIT)
    for it in refused:
        reply = await it.wait_for_original(timeout=WAIT)
        assert reply.ephemeral and "whole daily budget" in reply.text()

    await private_text(world, world.moderator, "quota set-server")
    assert world.discord.interaction_failures == []
    world.discord.assert_no_errors()
