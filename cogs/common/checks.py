"""Permission checks that hold even when a server admin re-maps command permissions.

``default_permissions`` only hides a command in the client; Discord still delivers
the interaction if an admin grants the command to a role in Server Settings →
Integrations. Moderator commands therefore check the member's resolved permissions
from the interaction payload on every call.
"""

from __future__ import annotations

import discord
from discord import app_commands


def require_manage_guild(interaction: discord.Interaction) -> bool:
    """Raise ``MissingPermissions`` (turned into a private message) unless Manage Server."""
    if interaction.guild_id is None:
        raise app_commands.NoPrivateMessage()
    if not interaction.permissions.manage_guild:
        raise app_commands.MissingPermissions(["manage_guild"])
    return True


class ModeratorOnly:
    """Mixin for the moderators' command groups (``/quota``, ``/settings``).

    Checks Manage Server on every call (see the module docstring) and answers privately:
    moderation is between moderators.
    """

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return require_manage_guild(interaction)

    async def _reply(self, interaction: discord.Interaction, text: str) -> None:
        await interaction.response.send_message(text, ephemeral=True)
