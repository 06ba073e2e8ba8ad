"""A member types /imagine and sees their image, with the settings that made it."""

from __future__ import annotations

import pytest

from tests.e2e.harness import Harness

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_a_member_gets_their_image_with_its_settings(world: Harness) -> None:
    alice = world.member("alice")
    it = await world.discord.run_slash_command(alice, world.general, "imagine", prompt="a red fox")
    await it.acknowledged(timeout=3)
    assert not it.ephemeral
    message = await it.wait_for_original(lambda m: bool(m.attachments), timeout=10)
    assert len(message.attachments) == 1
    image = message.attachments[0]
    assert (image.width, image.height) == (1024, 768)
    embed = message.embeds[0]
    assert "a red fox" in embed["description"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Size"] == "landscape_4_3 (1024×768)"
    assert fields["Seed"].strip("`").isdigit()
    assert world.discord.interaction_failures == []
    world.discord.assert_no_errors()
