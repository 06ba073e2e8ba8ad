"""One handler for every app-command error, so a member never sees "This interaction failed".

Expected refusals (missing permissions, checks) become a short private message;
anything unexpected is logged with the command and member, and the member gets an
apology instead of silence. Every answer is private: in the member's language.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.jobs.service import Refusal
from cogs.common import messages
from cogs.common.flow import send_ephemeral
from cogs.common.places import NotAllowedHere
from cogs.common.voices import to_member

if TYPE_CHECKING:
    from bot.app import ImagineBot

log = logging.getLogger(__name__)


class Errors(commands.Cog):
    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot
        self._previous = bot.tree.on_error

    async def cog_load(self) -> None:
        self.bot.tree.on_error = self.on_app_command_error  # type: ignore[method-assign]

    async def cog_unload(self) -> None:
        self.bot.tree.on_error = self._previous  # type: ignore[method-assign]

    async def on_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        s = to_member(interaction)
        if isinstance(error, app_commands.MissingPermissions):
            text = messages.missing_permission(s)
        elif isinstance(error, app_commands.NoPrivateMessage):
            text = messages.servers_only(s)
        elif isinstance(error, NotAllowedHere):  # the personal-use gate's own refusal
            text = error.said(s)
        elif isinstance(error, app_commands.CheckFailure):
            # Any other check: discord.py's str() is English ("The check functions for
            # command 'usage' failed."), so the catalog's own words instead.
            text = messages.check_failed(s)
        elif isinstance(error, app_commands.CommandInvokeError) and isinstance(
            error.original, Refusal
        ):  # e.g. the database too slow to answer before the deadline (cogs/common/budget)
            text = messages.refusal(s, error.original)
        elif isinstance(error, app_commands.TransformerError):
            text = messages.not_understood(s, str(error.value))
        else:
            command = interaction.command.qualified_name if interaction.command else "?"
            log.error(
                "command /%s by user %s in guild %s failed",
                command,
                interaction.user.id,
                interaction.guild_id,
                exc_info=error,
            )
            text = messages.unexpected_error(s)
        try:
            await send_ephemeral(interaction, text)
        except discord.HTTPException:
            log.warning("could not report an error to user %s", interaction.user.id)


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(Errors(bot))
