"""``/imagine private:True``: only the member sees the request, its progress and its image.

Its buttons work for the requester, and what they start stays private too; a private
result never turns up in the channel, whatever happens on the way.
"""

from __future__ import annotations

import pytest

from tests.e2e.harness import Harness
from tests.emulators.discord import Message
from tests.emulators.siraya import Fault

pytestmark = pytest.mark.asyncio(loop_scope="module")

NOT_CHARGED = "You were not charged for it."


def has_image(message: Message) -> bool:
    return bool(message.attachments)


def public_messages_about(world: Harness, member_id: int) -> list[Message]:
    """What the rest of #general can see of this member's requests."""
    return [
        m
        for m in world.discord.messages(world.general)
        if not m.ephemeral
        and (m.interaction_metadata or {}).get("user", {}).get("id") == str(member_id)
    ]


async def test_a_private_result_is_ephemeral_from_acknowledgement_to_image(
    world: Harness,
) -> None:
    member = world.member("shy")
    world.api.hold()
    try:
        it = await world.discord.run_slash_command(
            member, world.general, "imagine", prompt="a secret garden", private=True
        )
        await it.acknowledged(timeout=3)
        assert it.ephemeral, "the acknowledgement is already private"
        progress = await it.wait_for_original(lambda m: "Generating" in m.content, timeout=10)
        assert progress.ephemeral and progress.visible_to == member.id
    finally:
        world.api.release()
    result = await it.wait_for_original(has_image, timeout=15)
    assert result.ephemeral and result.visible_to == member.id
    assert "a secret garden" in result.embeds[0]["description"]
    assert public_messages_about(world, member.id) == []
    assert await world.used_today(member) == 1
    world.discord.assert_no_errors()


async def test_a_private_results_buttons_work_for_the_requester_and_stay_private(
    world: Harness,
) -> None:
    member = world.member("shy")
    it = await world.discord.run_slash_command(
        member, world.general, "imagine", prompt="a hidden door", private=True
    )
    result = await it.wait_for_original(has_image, timeout=15)
    again = await world.discord.press_button(member, result, label="Re-roll")
    await again.acknowledged(timeout=3)
    assert again.ephemeral
    rerolled = await again.wait_for_original(has_image, timeout=15)
    assert rerolled.ephemeral and rerolled.visible_to == member.id
    info = await world.discord.press_button(member, rerolled, label="Info")
    shown = await info.wait_for_original(timeout=5)
    assert shown.ephemeral
    delete = await world.discord.press_button(member, rerolled, label="Delete")
    answer = await delete.wait_for_original(timeout=5)
    assert answer.ephemeral and "Dismiss message" in answer.content
    assert public_messages_about(world, member.id) == []
    assert await world.used_today(member) == 2
    world.discord.assert_no_errors()


async def test_a_private_request_the_provider_refuses_is_told_in_place(world: Harness) -> None:
    member = world.member("shy")
    world.api.fail_next(Fault.status(422))
    it = await world.discord.run_slash_command(
        member, world.general, "imagine", prompt="something forbidden", private=True
    )
    told = await it.wait_for_original(lambda m: NOT_CHARGED in m.content, timeout=15)
    assert told.ephemeral and "refused this prompt" in told.content
    assert public_messages_about(world, member.id) == []
    assert await world.used_today(member) == 0
    world.discord.assert_no_errors()
