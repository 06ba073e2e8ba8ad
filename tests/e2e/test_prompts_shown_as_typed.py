"""What the bot writes is what the member typed: a prompt never turns into markdown.

A prompt is echoed in the result, in Info (and its "Reproduce it" /imagine line), in
/queue and in a refusal. Each place is read the way a member's client would render it
(:mod:`tests.emulators.discord.markdown`): no masked link, heading, list, spoiler,
mention or code block the member did not see as plain text, and exactly their words.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.harness import Harness
from tests.emulators.discord import InteractionRecord, Member, Message
from tests.emulators.discord.interactions import CHANNEL_MESSAGE
from tests.emulators.discord.markdown import constructs, rendered

pytestmark = pytest.mark.asyncio(loop_scope="module")

WAIT = 15.0

HOSTILE = (
    "# a [free nitro](https://evil.example/claim) ||spoiler|| **bold** __under__ ~~gone~~ "
    "<@123456789012345678> <@&234567890123456789> <#345678901234567890> <t:0:R> @everyone "
    "`tick` ``` fenced ``` back\\slash"
)
LINES = "a fox\n- a list\n1. numbered\n> quoted\n-# small print\n## heading"


def assert_shown_as_typed(text: str, typed: str) -> None:
    assert constructs(text) == [], text
    assert rendered(text) == typed


async def result_of(world: Harness, member: Member, prompt: str) -> Message:
    it = await world.discord.run_slash_command(member, world.general, "imagine", prompt=prompt)
    await it.acknowledged(timeout=WAIT)
    return await it.wait_for_original(lambda m: len(m.attachments) == 1, timeout=WAIT)


async def pressed(
    world: Harness, member: Member, message: Message, label: str
) -> InteractionRecord:
    it = await world.discord.press_button(member, message, label=label)
    await it.acknowledged(timeout=WAIT)
    return it


async def test_result_and_info_show_the_prompt_as_typed(world: Harness) -> None:
    member = world.member("hostile")
    result = await result_of(world, member, HOSTILE)
    assert_shown_as_typed(result.embeds[0]["description"], HOSTILE)
    assert result.content == ""

    info = await (await pressed(world, member, result, "Info")).wait_for_original(timeout=WAIT)
    embed = info.embeds[0]
    assert_shown_as_typed(embed["description"], HOSTILE)
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    block = re.fullmatch(r"```\n(.*)\n```", fields["Reproduce it"], re.DOTALL)
    assert block, fields["Reproduce it"]
    assert "```" not in block[1], "the prompt's own fence does not end the block"
    assert block[1].replace("\u200b", "").startswith(f"/imagine prompt:{HOSTILE} size:")
    assert world.discord.interaction_failures == []


async def test_a_prompt_with_line_breaks_makes_no_list_quote_or_heading(world: Harness) -> None:
    member = world.member("lines")
    original = await result_of(world, member, "a fox")
    form = await (await pressed(world, member, original, "Edit")).wait_for_modal(timeout=WAIT)
    done = await world.discord.submit_modal(member, form, {"Prompt": LINES})
    await done.acknowledged(timeout=WAIT)
    edited = await done.wait_for_original(lambda m: len(m.attachments) == 1, timeout=WAIT)
    assert_shown_as_typed(edited.embeds[0]["description"], LINES)

    info = await (await pressed(world, member, edited, "Info")).wait_for_original(timeout=WAIT)
    assert_shown_as_typed(info.embeds[0]["description"], LINES)


async def test_queue_lists_the_prompt_as_typed(world: Harness) -> None:
    member = world.member("queued")
    world.api.hold()
    try:
        job = await world.discord.run_slash_command(
            member, world.general, "imagine", prompt="||a|| [b](https://x.example) `c` <@1>"
        )
        await job.acknowledged(timeout=WAIT)
        listing = await world.discord.run_slash_command(member, world.general, "queue")
        await listing.acknowledged(timeout=WAIT)
        shown = (await listing.wait_for_original(timeout=WAIT)).embeds[0]["description"]
    finally:
        world.api.release()
    await job.wait_for_original(lambda m: len(m.attachments) == 1, timeout=WAIT)
    assert constructs(shown) == [], shown
    assert "“||a|| [b](https://x.example) `c` <@1>”" in rendered(shown)


async def test_a_refusal_quotes_the_blocked_word_as_written(world: Harness) -> None:
    member = world.member("refused")
    store = world.running_bot.store
    await store.block_word(world.guild.id, "**bold**", actor_id=world.moderator.id)
    try:
        it = await world.discord.run_slash_command(
            member, world.general, "imagine", prompt="a **bold** move"
        )
        await it.acknowledged(timeout=WAIT)
        assert it.response_type == CHANNEL_MESSAGE
        text = (await it.wait_for_original(timeout=WAIT)).content
    finally:
        await store.unblock_word(world.guild.id, "**bold**", actor_id=world.moderator.id)
    assert constructs(text) == [], text
    assert "“**bold**”" in rendered(text)
