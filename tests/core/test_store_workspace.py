"""The member's workspace in the store: preferences per member and scope, server styles,
history. Every test runs on SQLite and on PostgreSQL (see conftest)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from bot.policy.styles import MAX_STYLES_PER_GUILD, StylesFull, StyleTooLong
from bot.store import AuditAction, Store
from bot.store.base import PERSONAL_SCOPE, Preferences
from tests.core.conftest import ALICE, BOB, GUILD, MOD, member, params

OTHER_GUILD = 1001
DEFAULT = 5


async def test_preferences_belong_to_one_member_in_one_scope(store: Store) -> None:
    mine = Preferences(size="square_hd", steps=35, guidance=7.25, style="Watercolor")
    await store.set_preferences(GUILD, ALICE, mine)
    assert await store.preferences(GUILD, ALICE) == mine
    assert await store.preferences(GUILD, BOB) == Preferences()
    assert await store.preferences(OTHER_GUILD, ALICE) == Preferences()
    assert await store.preferences(PERSONAL_SCOPE, ALICE) == Preferences()

    custom = Preferences(width=512, height=768, count=2, acceleration="high")
    await store.set_preferences(GUILD, ALICE, custom)  # replaces the whole set
    assert await store.preferences(GUILD, ALICE) == custom
    assert await store.reset_preferences(GUILD, ALICE) is True
    assert await store.reset_preferences(GUILD, ALICE) is False
    assert await store.preferences(GUILD, ALICE) == Preferences()


async def test_styles_are_per_server_named_in_any_case_and_capped(store: Store) -> None:
    assert (
        await store.add_style(GUILD, " Water  colour ", "soft   watercolour", actor_id=MOD) is None
    )
    style = await store.style(GUILD, "water COLOUR")
    assert style is not None and (style.name, style.text) == ("Water colour", "soft watercolour")
    assert await store.style(OTHER_GUILD, "water colour") is None
    replaced = await store.add_style(GUILD, "WATER COLOUR", "ink wash", actor_id=MOD)
    assert replaced == "soft watercolour"
    assert [(s.name, s.text) for s in await store.styles(GUILD)] == [("WATER COLOUR", "ink wash")]

    for i in range(MAX_STYLES_PER_GUILD - 1):
        await store.add_style(GUILD, f"style {i:02}", "text", actor_id=MOD)
    with pytest.raises(StylesFull, match="at most 25 styles") as full:
        await store.add_style(GUILD, "one too many", "text", actor_id=MOD)
    assert full.value.cap == MAX_STYLES_PER_GUILD  # what the moderator's message is built from
    await store.add_style(GUILD, "style 00", "new text", actor_id=MOD)  # replacing still fits
    assert len(await store.styles(GUILD)) == MAX_STYLES_PER_GUILD
    with pytest.raises(StyleTooLong) as long_name:
        await store.add_style(GUILD, "x" * 33, "text", actor_id=MOD)
    assert (long_name.value.part, long_name.value.limit) == ("name", 32)
    with pytest.raises(StyleTooLong) as long_text:
        await store.add_style(GUILD, "long", "y" * 301, actor_id=MOD)
    assert (long_text.value.part, long_text.value.limit) == ("text", 300)

    assert await store.remove_style(GUILD, "water colour", actor_id=MOD) is True
    assert await store.remove_style(GUILD, "water colour", actor_id=MOD) is False
    actions = [entry.action for entry in await store.audit_log(GUILD, limit=100)]
    assert actions.count(AuditAction.REMOVE_STYLE) == 1
    assert actions.count(AuditAction.ADD_STYLE) == MAX_STYLES_PER_GUILD + 2  # 2 replaced


async def test_two_moderators_cannot_both_take_the_last_style_place(store: Store) -> None:
    for i in range(MAX_STYLES_PER_GUILD - 1):
        await store.add_style(GUILD, f"style {i:02}", "text", actor_id=MOD)
    results = await asyncio.gather(
        *(store.add_style(GUILD, f"last {i}", "text", actor_id=MOD) for i in range(2)),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["NoneType", "StylesFull"]
    assert len(await store.styles(GUILD)) == MAX_STYLES_PER_GUILD


async def test_history_is_the_members_own_newest_first_with_the_style(store: Store) -> None:
    styled = replace(params(), style_name="Ink", style_text="ink wash")
    first = await store.reserve(member(ALICE), params(prompt="first"), bot_default_limit=DEFAULT)
    await store.reserve(member(BOB), params(prompt="bob's"), bot_default_limit=DEFAULT)
    await store.reserve(
        member(ALICE, guild_id=OTHER_GUILD), params(prompt="elsewhere"), bot_default_limit=DEFAULT
    )
    second = await store.reserve(member(ALICE), styled, bot_default_limit=DEFAULT)
    await store.complete(second.generation_id, delivered=1, latency_ms=5, message_id=42)

    records, total = await store.history(GUILD, ALICE, limit=10)
    assert total == 2
    assert [r.id for r in records] == [second.generation_id, first.generation_id]
    assert records[0].params.style_name == "Ink" and records[0].params.style_text == "ink wash"
    assert records[0].message_id == 42 and records[1].params.style_name is None
    page, total = await store.history(GUILD, ALICE, limit=1, offset=1)
    assert [r.id for r in page] == [first.generation_id] and total == 2
    assert (await store.history(GUILD, BOB, limit=10))[1] == 1
