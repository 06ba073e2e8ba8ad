"""PERSONAL_USE=members asks Discord who shares a server: those lookups come out of the
interaction's acknowledgement budget, so a stalled route never costs the 3 seconds."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from bot.config import PersonalUse
from cogs.common.budget import acknowledgement_deadline
from cogs.common.places import NotAllowedHere, PersonalGate


class StalledMembersRoute:
    """``GET /guilds/{id}/members/{user}`` that never answers (a hung connection)."""

    def __init__(self) -> None:
        self.asked = 0

    async def get_member(self, guild_id: int, user_id: int) -> Any:
        self.asked += 1
        await asyncio.Event().wait()


def personal_interaction(client: Any) -> Any:
    """A press in a group DM, authorised by the member's own install."""
    return SimpleNamespace(
        guild_id=None,
        client=client,
        is_guild_integration=lambda: False,
        context=SimpleNamespace(dm_channel=False),
        user=SimpleNamespace(id=42),
        locale="en-US",  # every interaction carries the member's language
        extras={},
    )


async def test_lookups_end_with_what_is_left_of_the_acknowledgement_budget() -> None:
    route = StalledMembersRoute()
    client = SimpleNamespace(
        guilds=[SimpleNamespace(id=1, get_member=lambda _: None)],
        get_guild=lambda _: None,
        http=route,
    )
    gate = PersonalGate(client, PersonalUse.MEMBERS)  # type: ignore[arg-type]
    interaction = personal_interaction(client)
    loop = asyncio.get_running_loop()
    acknowledgement_deadline(interaction)  # the budget started earlier (a slow read)...
    interaction.extras["imagine.acknowledge_by"] = loop.time() + 0.1  # ...and is nearly spent
    started = loop.time()
    with pytest.raises(NotAllowedHere):
        await gate.check(interaction)
    assert loop.time() - started < 0.6, "not the full LOOKUP_TIMEOUT (1 s) past the budget"


async def test_the_budget_starts_when_the_gate_starts() -> None:
    route = StalledMembersRoute()
    client = SimpleNamespace(guilds=[], get_guild=lambda _: None, http=route)
    interaction = personal_interaction(client)
    gate = PersonalGate(client, PersonalUse.EVERYONE)  # type: ignore[arg-type]
    assert await gate.check(interaction)
    assert isinstance(interaction.extras.get("imagine.acknowledge_by"), float)
