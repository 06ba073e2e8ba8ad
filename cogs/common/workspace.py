"""What ``/imagine`` and the "Imagine this" dialog share: preferences, styles, autocomplete.

Both turn a member's few typed values into a full request the same way
(``bot.jobs.defaults``), look the style up by name in this server, and refuse an unknown
one privately with the list of styles there are. Reads go through the interaction's
acknowledgement budget, like every read before a deferral.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.jobs import defaults
from bot.policy.styles import MAX_STYLES_PER_GUILD, style_key
from bot.siraya import GenerationRequest
from bot.store.base import Preferences
from cogs.common import messages
from cogs.common.budget import in_time
from cogs.common.flow import send_ephemeral
from cogs.common.places import is_personal, ledger_guild_id
from cogs.common.voices import to_member

if TYPE_CHECKING:
    from bot.app import ImagineBot

log = logging.getLogger(__name__)

AUTOCOMPLETE_BUDGET = 2.0
"""Seconds an autocomplete may spend reading styles: Discord drops answers after 3 s."""


def options_given(
    *,
    size: app_commands.Choice[str] | None,
    width: int | None,
    height: int | None,
    steps: int | None,
    guidance: float | None,
    acceleration: app_commands.Choice[str] | None,
    count: int | None,
    style: str | None,
) -> Preferences:
    """The options a member typed (None = left out), as ``/imagine`` and ``/preferences
    set`` both take them."""
    return Preferences(
        size=size.value if size else None,
        width=width,
        height=height,
        steps=steps,
        guidance=guidance,
        acceleration=acceleration.value if acceleration else None,
        count=count,
        style=style,
    )


def scope_of(interaction: discord.Interaction) -> int:
    """The preferences scope: a server the bot is in (also through a member's own
    install there), else 0, the member's personal set for every personal place."""
    return ledger_guild_id(interaction)


async def request_for(
    interaction: discord.Interaction[ImagineBot],
    prompt: str,
    typed: Preferences,
    *,
    seed: int | None,
) -> GenerationRequest | None:
    """The request to generate, or None once the member was told privately (in their own
    language) why not."""
    bot = interaction.client
    s = to_member(interaction)
    preferred = await in_time(
        interaction, bot.store.preferences(scope_of(interaction), interaction.user.id)
    )
    chosen = defaults.choose(prompt, typed, preferred, seed=seed)
    if chosen.style is None:
        return chosen.request
    if is_personal(interaction):  # styles are a server's moderators'; none exist here
        await send_ephemeral(interaction, messages.no_styles_in_personal_places(s))
        return None
    guild_id = ledger_guild_id(interaction)
    style = await in_time(interaction, bot.store.style(guild_id, chosen.style))
    if style is None:
        if chosen.style_from_preferences:
            await send_ephemeral(interaction, messages.preferred_style_gone(s, chosen.style))
        else:
            styles = await in_time(interaction, bot.store.styles(guild_id))
            await send_ephemeral(interaction, messages.unknown_style(s, chosen.style, styles))
        return None
    return replace(chosen.request, style_name=style.name, style_text=style.text)


async def style_choices(
    interaction: discord.Interaction[ImagineBot], current: str
) -> list[app_commands.Choice[str]]:
    """This server's styles matching what the member has typed so far (≤ 25, in time).

    A slow database gives no suggestions rather than an answer Discord would drop; the
    member can still type a name, which ``/imagine`` checks. Personal places have no
    styles, so nothing is suggested there.
    """
    if is_personal(interaction):
        return []
    try:
        async with asyncio.timeout(AUTOCOMPLETE_BUDGET):
            styles = await interaction.client.store.styles(interaction.guild_id or 0)
    except TimeoutError:
        log.warning(
            "styles were too slow to read for autocomplete in guild %s", interaction.guild_id
        )
        return []
    wanted = style_key(current)
    starts = [s for s in styles if style_key(s.name).startswith(wanted)]
    contains = [s for s in styles if s not in starts and wanted in style_key(s.name)]
    return [
        app_commands.Choice(name=messages.clip(f"{s.name}: {s.text}", 100), value=s.name)
        for s in (starts + contains)[:MAX_STYLES_PER_GUILD]
    ]
