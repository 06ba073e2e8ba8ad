"""``/preferences``: a member's own defaults for ``/imagine`` here.

Stored per member and scope (``bot.store.base.Preferences``): a server the bot is in,
or scope 0, the personal set used in every personal place (the bot's DM, group DMs,
servers without the bot) when ``PERSONAL_USE`` offers the command there. Every answer
is private. A set that ``/imagine`` would refuse (a width without a height, an unknown
style, any style in a personal place) is refused the same way, before anything is saved.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.app_commands import Choice, Range
from discord.ext import commands

from bot.jobs import defaults
from bot.policy.styles import STYLE_NAME_MAX
from bot.siraya import (
    MAX_COUNT,
    MAX_GUIDANCE,
    MAX_SIDE,
    MAX_STEPS,
    MIN_COUNT,
    MIN_GUIDANCE,
    MIN_SIDE,
    MIN_STEPS,
    SIDE_MULTIPLE,
    InvalidRequest,
)
from bot.store.base import Preferences
from cogs.common import messages
from cogs.common.budget import in_time
from cogs.common.places import is_personal
from cogs.common.translator import locale_str
from cogs.common.voices import to_member
from cogs.common.workspace import options_given, scope_of, style_choices
from cogs.imagine import ACCELERATION_CHOICES, SIZE_CHOICES

if TYPE_CHECKING:
    from bot.app import ImagineBot


@app_commands.guild_only()
class PreferencesCog(
    commands.GroupCog,
    group_name="preferences",
    group_description=locale_str(
        "Your own defaults for /imagine here (a server, or your personal set)"
    ),
):
    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot
        super().__init__()

    async def _show(
        self, interaction: discord.Interaction, preferences: Preferences, *, changed: bool = False
    ) -> None:
        embed = messages.preferences_embed(to_member(interaction), preferences, changed=changed)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @app_commands.command(
        name="show", description=locale_str("Show your defaults for /imagine here")
    )
    async def show(self, interaction: discord.Interaction) -> None:
        current = await in_time(
            interaction, self.bot.store.preferences(scope_of(interaction), interaction.user.id)
        )
        await self._show(interaction, current)

    @app_commands.command(
        name="set", description=locale_str("Set defaults /imagine uses when you leave options out")
    )
    @app_commands.describe(
        size=locale_str("A preset size (replaces a custom width and height)"),
        width=locale_str(
            "Custom width ({low}–{high}, multiple of {step}); set height too",
            low=str(MIN_SIDE),
            high=str(MAX_SIDE),
            step=str(SIDE_MULTIPLE),
        ),
        height=locale_str(
            "Custom height ({low}–{high}, multiple of {step}); set width too",
            low=str(MIN_SIDE),
            high=str(MAX_SIDE),
            step=str(SIDE_MULTIPLE),
        ),
        steps=locale_str("Denoising steps ({low}–{high})", low=MIN_STEPS, high=MAX_STEPS),
        guidance=locale_str(
            "How closely to follow the prompt ({low}–{high})", low=MIN_GUIDANCE, high=MAX_GUIDANCE
        ),
        acceleration=locale_str("Speed against quality"),
        count=locale_str("How many images at once ({low}–{high})", low=MIN_COUNT, high=MAX_COUNT),
        style=locale_str("One of this server's styles, added to every prompt"),
    )
    @app_commands.choices(size=SIZE_CHOICES, acceleration=ACCELERATION_CHOICES)
    @app_commands.autocomplete(style=style_choices)
    async def set_(
        self,
        interaction: discord.Interaction,
        size: Choice[str] | None = None,
        width: Range[int, MIN_SIDE, MAX_SIDE] | None = None,
        height: Range[int, MIN_SIDE, MAX_SIDE] | None = None,
        steps: Range[int, MIN_STEPS, MAX_STEPS] | None = None,
        guidance: Range[float, MIN_GUIDANCE, MAX_GUIDANCE] | None = None,
        acceleration: Choice[str] | None = None,
        count: Range[int, MIN_COUNT, MAX_COUNT] | None = None,
        style: Range[str, 1, STYLE_NAME_MAX] | None = None,
    ) -> None:
        s = to_member(interaction)
        given = options_given(
            size=size,
            width=width,
            height=height,
            steps=steps,
            guidance=guidance,
            acceleration=acceleration,
            count=count,
            style=style,
        )
        if given.empty:
            await interaction.response.send_message(
                messages.preferences_nothing_given(s), ephemeral=True
            )
            return
        store, scope, user_id = self.bot.store, scope_of(interaction), interaction.user.id
        if style is not None:
            if is_personal(interaction):
                await interaction.response.send_message(
                    messages.no_styles_in_personal_places(s), ephemeral=True
                )
                return
            found = await in_time(interaction, store.style(scope, style))
            if found is None:
                styles = await in_time(interaction, store.styles(scope))
                await interaction.response.send_message(
                    messages.unknown_style(s, style, styles), ephemeral=True
                )
                return
            given = replace(given, style=found.name)
        current = await in_time(interaction, store.preferences(scope, user_id))
        wanted = defaults.updated(current, given)
        try:
            defaults.check(wanted)
        except InvalidRequest as error:
            await interaction.response.send_message(
                messages.nothing_saved(s, messages.refusal(s, error)), ephemeral=True
            )
            return
        await in_time(interaction, store.set_preferences(scope, user_id, wanted))
        await self._show(interaction, wanted, changed=True)

    @app_commands.command(
        name="reset", description=locale_str("Forget your defaults for /imagine here")
    )
    async def reset(self, interaction: discord.Interaction) -> None:
        had_any = await in_time(
            interaction,
            self.bot.store.reset_preferences(scope_of(interaction), interaction.user.id),
        )
        await interaction.response.send_message(
            messages.preferences_reset(to_member(interaction), had_any), ephemeral=True
        )


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(PreferencesCog(bot))
