"""Permission checks that hold even when a server admin re-maps command permissions.

``default_permissions`` only hides a command in the client; Discord still delivers
the interaction if an admin grants the command to a role in Server Settings →
Integrations. Moderator commands therefore check the member's resolved permissions
from the interaction payload on every call.

The same distrust applies to button presses: a custom id is whatever the member's client
sent, so :func:`reaches_item` tells the listeners which presses no button will answer.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, cast

import discord
from discord import app_commands

from cogs.common import messages
from cogs.common.flow import send_ephemeral
from cogs.common.voices import to_member

log = logging.getLogger(__name__)


def require_manage_guild(interaction: discord.Interaction) -> bool:
    """Raise ``MissingPermissions`` (turned into a private message) unless Manage Server."""
    if interaction.guild_id is None:
        raise app_commands.NoPrivateMessage()
    if not interaction.permissions.manage_guild:
        raise app_commands.MissingPermissions(["manage_guild"])
    return True


def is_moderator(interaction: discord.Interaction) -> bool:
    """A moderator here is who may use ``/quota`` and ``/settings``: Manage Server."""
    return interaction.guild_id is not None and interaction.permissions.manage_guild


class ModeratorOnly:
    """Mixin for the moderators' command groups (``/quota``, ``/settings``).

    Checks Manage Server on every call (see the module docstring) and answers privately:
    moderation is between moderators.
    """

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return require_manage_guild(interaction)

    async def _reply(self, interaction: discord.Interaction, text: str) -> None:
        await interaction.response.send_message(text, ephemeral=True)


async def refuse_stray_press(
    interaction: discord.Interaction, prefix: str, template: re.Pattern[str]
) -> None:
    """Answer privately a ``prefix`` press that the item built on ``template`` will not.

    A forged, garbled or out-of-range custom id would otherwise meet silence.
    """
    custom_id = component_custom_id(interaction)
    if custom_id is None or not custom_id.startswith(prefix):
        return
    if reaches_item(interaction, template):
        return
    log_refused_press(custom_id, interaction)
    with contextlib.suppress(discord.HTTPException):
        await send_ephemeral(interaction, messages.button_not_valid(to_member(interaction)))


def log_refused_press(custom_id: str, interaction: discord.Interaction) -> None:
    log.warning(
        "refused custom id %r from user %s in guild %s: not a valid press here",
        messages.clip(custom_id, 120),
        interaction.user.id,
        interaction.guild_id,
    )


def component_custom_id(interaction: discord.Interaction) -> str | None:
    """The custom id of a pressed button or chosen menu; None for other interactions."""
    if interaction.type is not discord.InteractionType.component:
        return None
    data = cast("Mapping[str, Any]", interaction.data or {})
    custom_id = data.get("custom_id")
    return custom_id if isinstance(custom_id, str) else None


def reaches_item(interaction: discord.Interaction, template: re.Pattern[str]) -> bool:
    """Whether discord.py hands this press to the ``DynamicItem`` built on ``template``.

    It does only when the custom id matches the template and a component with that id
    and type is on the message pressed; any other press would meet silence ("This
    interaction failed"), so a listener answers those (a forged or stale custom id).
    """
    custom_id = component_custom_id(interaction)
    message = interaction.message
    if custom_id is None or message is None or template.fullmatch(custom_id) is None:
        return False
    data = cast("Mapping[str, Any]", interaction.data or {})
    kind = data.get("component_type")
    return any(
        getattr(component, "custom_id", None) == custom_id and component.type.value == kind
        for component in _walk(message.components)
    )


def _walk(components: Iterable[discord.Component]) -> Iterator[discord.Component]:
    for component in components:
        yield component
        yield from _walk(getattr(component, "children", ()) or ())
        accessory = getattr(component, "accessory", None)
        if isinstance(accessory, discord.Component):
            yield accessory
