"""``/usage``: any member can see their limit, what they used today, and when it resets."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.policy.places import NO_SERVER
from cogs.common import messages
from cogs.common.budget import in_time
from cogs.common.checks import is_moderator
from cogs.common.flow import requester_from
from cogs.common.translator import locale_str
from cogs.common.voices import to_member

if TYPE_CHECKING:
    from bot.app import ImagineBot


class Usage(commands.Cog):
    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot

    @app_commands.command(
        name="usage", description=locale_str("See how many images you can still make today")
    )
    @app_commands.guild_only()
    async def usage(self, interaction: discord.Interaction[ImagineBot]) -> None:
        member = requester_from(interaction).member
        summary = await in_time(
            interaction,
            self.bot.store.usage(
                member, bot_default_limit=self.bot.generations.default_limit_for(member.guild_id)
            ),
        )
        spend: int | None = None
        personal = member.guild_id == NO_SERVER
        price = self.bot.settings.price_per_megapixel
        if price is not None and not personal and is_moderator(interaction):
            (today,) = await in_time(
                interaction, self.bot.store.daily_totals(member.guild_id, days=1)
            )
            spend = today.cost_pico_usd
        await interaction.response.send_message(
            embed=messages.usage_embed(
                to_member(interaction), summary, server_spend_pico=spend, personal=personal
            ),
            ephemeral=True,
        )


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(Usage(bot))
