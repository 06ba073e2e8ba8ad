"""A member asks for something the bot cannot make: they are told privately what to change.

These are the requests the Discord client lets through (it only knows each option's
own range), so the bot must catch them itself, before acknowledging, and charge nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.harness import Harness

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.mark.parametrize(
    ("options", "advice"),
    [
        pytest.param({"width": 512}, "width and height must both be set", id="width-alone"),
        pytest.param({"height": 512}, "width and height must both be set", id="height-alone"),
        pytest.param(
            {"size": "square", "width": 512, "height": 512},
            "either a size preset or a custom width and height",
            id="size-and-custom",
        ),
        pytest.param(
            {"width": 500, "height": 512}, "width must be between 256 and 2048", id="width-not-x16"
        ),
        pytest.param(
            {"width": 512, "height": 1000},
            "height must be between 256 and 2048",
            id="height-not-x16",
        ),
        pytest.param({"prompt": "     "}, "the prompt is empty", id="only-spaces"),
        pytest.param({"prompt": " \n\t "}, "the prompt is empty", id="only-whitespace"),
    ],
)
async def test_a_bad_request_is_explained_privately_and_costs_nothing(
    world: Harness, options: dict[str, Any], advice: str
) -> None:
    member = world.member("picky")
    api_calls = len(world.api.requests)
    it = await world.discord.run_slash_command(
        member, world.general, "imagine", **{"prompt": "a cat", **options}
    )
    await it.acknowledged(timeout=3)
    reply = await it.wait_for_original(timeout=10)
    assert reply.ephemeral, "only the member sees what they got wrong"
    assert advice in reply.content.lower()
    if "multiple" in advice or "between" in advice:
        assert "multiple of 16" in reply.content
    assert not reply.attachments
    assert await world.used_today(member) == 0
    assert len(world.api.requests) == api_calls, "nothing reached the image API"
    assert world.discord.interaction_failures == []
    world.discord.assert_no_errors()


async def test_usage_after_a_refusal_shows_nothing_used(world: Harness) -> None:
    member = world.member("checker")
    it = await world.discord.run_slash_command(
        member, world.general, "imagine", prompt="a cat", width=512
    )
    await it.wait_for_original(timeout=10)
    usage = await world.discord.run_slash_command(member, world.general, "usage")
    summary = await usage.wait_for_original(timeout=10)
    assert summary.ephemeral
    assert "**0** of **20** used" in summary.embeds[0]["description"]
