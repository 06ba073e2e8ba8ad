"""The owner turned the safety checker off for NSFW channels (``NSFW_SAFETY_CHECKER=off``).

It stays on everywhere else, whatever anyone sets; a server's own setting overrides the
owner's default in its NSFW channels. Its own bot, because the setting is read at start.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from tests.e2e.harness import Harness, start_harness
from tests.emulators.discord import Channel

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def relaxed(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    harness = await start_harness(
        tmp_path_factory.mktemp("relaxed"), env={"NSFW_SAFETY_CHECKER": "off"}
    )
    try:
        yield harness
    finally:
        await harness.close()


async def safety_sent(world: Harness, channel: Channel, prompt: str) -> bool:
    """A member runs /imagine in ``channel``; whether the API was asked to check safety."""
    member = world.member("artist")
    it = await world.discord.run_slash_command(
        member, channel, "imagine", prompt=prompt, size="square"
    )
    message = await it.wait_for_original(lambda m: bool(m.attachments), timeout=15)
    body: dict[str, Any] = next(r.json for r in world.api.requests if r.json["prompt"] == prompt)
    shown = {f["name"]: f["value"] for f in message.embeds[0]["fields"]}["Safety checker"]
    assert shown == ("on" if body["enable_safety_checker"] else "off"), "the embed tells the truth"
    return bool(body["enable_safety_checker"])


async def test_the_owner_default_applies_only_to_nsfw_channels(relaxed: Harness) -> None:
    assert await safety_sent(relaxed, relaxed.lounge, "owner default, lounge") is False
    assert await safety_sent(relaxed, relaxed.general, "owner default, general") is True
    relaxed.discord.assert_no_errors()


async def test_a_server_can_keep_the_checker_on_in_its_nsfw_channels(relaxed: Harness) -> None:
    it = await relaxed.discord.run_slash_command(
        relaxed.moderator, relaxed.general, "settings nsfw-safety", state="on"
    )
    await it.wait_for_original(timeout=10)
    assert await safety_sent(relaxed, relaxed.lounge, "server says on, lounge") is True
    it = await relaxed.discord.run_slash_command(
        relaxed.moderator, relaxed.general, "settings nsfw-safety", state="off"
    )
    await it.wait_for_original(timeout=10)
    assert await safety_sent(relaxed, relaxed.lounge, "server says off, lounge") is False
    assert await safety_sent(relaxed, relaxed.general, "server says off, general") is True


async def test_a_channel_marked_nsfw_later_follows_the_nsfw_rule(relaxed: Harness) -> None:
    art = relaxed.guild.add_channel("art")
    assert await safety_sent(relaxed, art, "art before") is True
    art.set_nsfw(True)
    assert await safety_sent(relaxed, art, "art after") is False
    art.set_nsfw(False)
    assert await safety_sent(relaxed, art, "art sfw again") is True
