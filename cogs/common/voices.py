"""Which language a text is in: private replies follow the member, public ones the server.

A refusal, ``/usage``, ``/queue``, Info, an error or a dialog is read by the member alone,
so it follows their Discord client (``interaction.locale``). A result, its progress line, a
channel post after the token expired and the moderation log are read by everyone there,
so they follow the server: the language a moderator chose with ``/settings language``,
else the server's own (``interaction.guild_locale``). Outside servers there is no server
language: the member's own is used.

Every public message belongs to a generation, which decides its language once, when it
is accepted, with the guild policy it reads anyway (``Job.locale``), and keeps it
(``GenerationRecord.locale``): a picked image or anything else made from a stored
generation speaks ``speech(record.locale)``, the language its result was posted in.
"""

from __future__ import annotations

import discord

from bot.i18n import Speech, speech


def to_member(interaction: discord.Interaction) -> Speech:
    """The voice for a private reply: the member's Discord language."""
    return speech(str(interaction.locale))


def server_locale(interaction: discord.Interaction) -> str:
    """The Discord locale code of this interaction's place as Discord tells it: the
    server's own language (outside servers, the member's). ``GenerationService.submit``
    puts the moderators' choice over it for a job, with the policy it reads anyway."""
    if interaction.guild_id is not None and interaction.guild_locale is not None:
        return str(interaction.guild_locale)
    return str(interaction.locale)
