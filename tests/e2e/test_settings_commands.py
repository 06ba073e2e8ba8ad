"""Moderators decide with /settings where /imagine works, what it refuses, and NSFW safety.

Each story ends by undoing its settings, so the next one starts from a server with
no rules; refusals are checked to be private, immediate (no deferral) and free.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from bot.store import sqlite as sqlite_store
from tests.e2e.harness import Harness
from tests.emulators.discord import Channel, InteractionRecord, Member, Message
from tests.emulators.discord.interactions import CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE

pytestmark = pytest.mark.asyncio(loop_scope="module")

WAIT = 15.0


async def run(
    world: Harness, member: Member, path: str, /, where: Channel | None = None, **options: Any
) -> InteractionRecord:
    it = await world.discord.run_slash_command(member, where or world.general, path, **options)
    await it.acknowledged(timeout=WAIT)
    return it


async def private_reply(
    world: Harness, member: Member, path: str, /, where: Channel | None = None, **options: Any
) -> Message:
    it = await run(world, member, path, where, **options)
    assert it.response_type == CHANNEL_MESSAGE, it
    reply = await it.wait_for_original(timeout=WAIT)
    assert reply.ephemeral, reply
    return reply


async def moderate(world: Harness, path: str, /, **options: Any) -> str:
    return (await private_reply(world, world.moderator, path, **options)).text()


async def imagine(
    world: Harness, member: Member, prompt: str, channel: Channel | None = None
) -> Message:
    it = await run(world, member, "imagine", channel, prompt=prompt)
    assert it.response_type == DEFERRED_CHANNEL_MESSAGE, it
    return await it.wait_for_original(lambda m: len(m.attachments) == 1, timeout=WAIT)


async def refused(
    world: Harness, member: Member, prompt: str, channel: Channel | None = None
) -> str:
    """``member`` is told no privately, before any deferral, and the API never hears of it."""
    before = len(world.api.requests)
    text = (await private_reply(world, member, "imagine", channel, prompt=prompt)).text()
    assert len(world.api.requests) == before
    return text


def shown_settings(reply: Message) -> dict[str, str]:
    return {f["name"]: f["value"] for f in reply.embeds[0]["fields"]}


@pytest_asyncio.fixture(loop_scope="module", autouse=True)
async def judged(world: Harness) -> AsyncIterator[None]:
    """No failure seen, no invalid request; the server's rules are cleared afterwards."""
    yield
    assert world.discord.interaction_failures == []
    world.discord.assert_no_errors()
    store = world.running_bot.store
    policy = await store.guild_policy(world.guild.id)
    for channel_id in policy.allowed_channel_ids:
        await store.disallow_channel(world.guild.id, channel_id, actor_id=world.moderator.id)
    for word in policy.blocked_words:
        await store.unblock_word(world.guild.id, word, actor_id=world.moderator.id)


async def test_allowed_channels_restrict_imagine_and_disallowing_restores(
    world: Harness,
) -> None:
    alice = world.member("alice")
    text = await moderate(world, "settings allow-channel", channel=world.lounge)
    assert text == f"/imagine now works in <#{world.lounge.id}>."

    refusal = await refused(world, alice, "a quiet harbour", world.general)
    assert "not enabled in this channel" in refusal
    assert f"Try <#{world.lounge.id}>" in refusal  # and says where it does work
    await imagine(world, alice, "a quiet harbour", world.lounge)

    text = await moderate(world, "settings disallow-channel", channel=world.lounge)
    assert f"Removed <#{world.lounge.id}> from the allowed list." in text
    assert "works everywhere" in text
    await imagine(world, alice, "a quiet harbour", world.general)


async def test_blocked_words_are_refused_whatever_their_case(world: Harness) -> None:
    bob = world.member("bob")
    assert "now refused" in await moderate(world, "settings block-word", word="Dragon")
    await moderate(world, "settings block-word", word="haunted castle")

    refusal = await refused(world, bob, "a DRAGON over the hills")
    assert "dragon" in refusal.lower()
    assert "castle" not in refusal, "the rest of the list stays private"
    refusal = await refused(world, bob, "a Haunted  Castle at night")
    assert "haunted castle" in refusal.lower()
    assert "dragon" not in refusal.lower()
    await imagine(world, bob, "a dragonfly on a leaf")  # a whole word, not a substring

    assert "allowed again" in await moderate(world, "settings unblock-word", word="dragon")
    await imagine(world, bob, "a dragon over the hills")


async def test_blocked_words_cannot_hide_behind_lookalikes_or_invisible_characters(
    world: Harness,
) -> None:
    bob = world.member("bob")
    await moderate(world, "settings block-word", word="dragon")
    disguises = [
        "a dr\u0430gon over the hills",  # Cyrillic а
        "a DRΑGΟN over the hills",  # Greek capital alpha and omicron
        "a dra\u200bgon over the hills",  # zero-width space
        "a dra\u00adgon over the hills",  # soft hyphen
        "a d\u200dr\u2060agon\ufe0f over the hills",  # joiner, word joiner, variation selector
        "a ｄｒａｇｏｎ over the hills",  # fullwidth
        "a 𝐝𝐫𝐚𝐠𝐨𝐧 over the hills",  # mathematical bold
    ]
    for prompt in disguises:
        refusal = await refused(world, bob, prompt)
        assert "“dragon”" in refusal, (prompt, refusal)  # the rule, readable, as written

    # Folding makes nothing innocent match: accents, other words, whole words only.
    await moderate(world, "settings block-word", word="ano")
    for prompt in ("el año nuevo", "a dragonfly on a leaf"):
        await imagine(world, bob, prompt)
    assert not world.discord.interaction_failures


async def test_nsfw_safety_off_applies_only_in_nsfw_channels(world: Harness) -> None:
    carol = world.member("carol")
    text = await moderate(world, "settings nsfw-safety", state="off")
    assert "now **off** in NSFW channels" in text
    try:
        await imagine(world, carol, "a moody portrait", world.lounge)
        assert world.api.requests[-1].json["enable_safety_checker"] is False
        await imagine(world, carol, "a moody portrait", world.general)
        assert world.api.requests[-1].json["enable_safety_checker"] is True
    finally:
        await moderate(world, "settings nsfw-safety", state="on")
    await imagine(world, carol, "a moody portrait", world.lounge)
    assert world.api.requests[-1].json["enable_safety_checker"] is True


async def test_show_lists_every_rule(world: Harness) -> None:
    fresh = shown_settings(await private_reply(world, world.moderator, "settings show"))
    assert fresh["Where /imagine works"] == "every channel (no channel list set)"
    assert fresh["Blocked words"] == "none"
    assert fresh["Safety checker in NSFW channels"].startswith("on")

    await moderate(world, "settings allow-channel", channel=world.general)
    await moderate(world, "settings allow-channel", channel=world.lounge)
    await moderate(world, "settings block-word", word="Spiders")
    await moderate(world, "settings nsfw-safety", state="off")
    try:
        shown = shown_settings(await private_reply(world, world.moderator, "settings show"))
    finally:
        await moderate(world, "settings nsfw-safety", state="on")
    assert f"<#{world.general.id}>" in shown["Where /imagine works"]
    assert f"<#{world.lounge.id}>" in shown["Where /imagine works"]
    assert shown["Blocked words"] == "`spiders`"
    assert shown["Safety checker in NSFW channels"] == "off; always on in other channels"


async def test_settings_changes_are_audited_in_quota_view(world: Harness) -> None:
    await moderate(world, "settings allow-channel", channel=world.lounge)
    await moderate(world, "settings block-word", word="secret phrase")
    embed = (await private_reply(world, world.moderator, "quota view")).embeds[0]
    changes = next(f["value"] for f in embed["fields"] if f["name"] == "Recent changes")
    mod = f"<@{world.moderator.id}>"
    assert f"{mod} added a blocked word" in changes
    assert f"{mod} allowed <#{world.lounge.id}>" in changes
    assert "secret phrase" not in changes, "the audit does not reveal blocked words"


async def test_a_word_too_long_once_normalised_is_explained(world: Harness) -> None:
    # Six characters as typed, but NFKC (how prompts are compared) spells each one out
    # as an 18-character phrase: past the 100-character limit for a rule.
    word = "\ufdfa" * 6
    text = await moderate(world, "settings block-word", word=word)
    assert "100 characters" in text
    assert "went wrong" not in text
    text = await moderate(world, "settings unblock-word", word=word)
    assert "Nothing changed" in text and "100 characters" in text
    assert (await world.running_bot.store.guild_policy(world.guild.id)).blocked_words == ()


async def test_a_full_block_list_is_explained(
    world: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_store, "MAX_BLOCKED_WORDS_PER_GUILD", 2)
    await moderate(world, "settings block-word", word="moths")
    await moderate(world, "settings block-word", word="wasps")

    text = await moderate(world, "settings block-word", word="hornets")

    assert "at most 2" in text
    assert "went wrong" not in text
    assert "already blocked" in await moderate(world, "settings block-word", word="Moths")
    policy = await world.running_bot.store.guild_policy(world.guild.id)
    assert policy.blocked_words == ("moths", "wasps")
