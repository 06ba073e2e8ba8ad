"""Which language a text is in: private replies follow the member, public ones the server.

A refusal, ``/usage``, ``/queue``, Info, an error or a dialog is read by the member alone,
so it follows their Discord client (``interaction.locale``). A result, its progress line, a
channel post after the token expired and the moderation log are read by everyone there,
so they follow the server: the language a moderator chose with ``/settings language``,
else the server's own (``interaction.guild_locale``). Outside servers there is no server
language: the member's own is used.
"""

from __future__ import annotations

import discord

from bot.i18n import ServerLanguages, Speech, speech


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


def _server_languages(client: discord.Client) -> ServerLanguages | None:
    """The bot's record of chosen languages (None for a client that keeps none)."""
    generations = getattr(client, "generations", None)
    languages = getattr(generations, "server_languages", None)
    return languages if isinstance(languages, ServerLanguages) else None


def public_locale(interaction: discord.Interaction) -> str:
    """The language of a public answer that is no job: the moderators' choice as this
    process last read it (no database trip), else the server's own."""
    languages = _server_languages(interaction.client)
    if interaction.guild_id is not None and languages is not None:
        chosen = languages.chosen(interaction.guild_id)
        if chosen is not None:
            return chosen
    return server_locale(interaction)


def to_server(interaction: discord.Interaction) -> Speech:
    """The voice for a public message where the interaction happened (not a job's: a job
    speaks its own ``Job.locale``/``GenerationRecord.locale``, decided when it was made).

    Only as fresh as this process's memory: empty after a restart, one per process. So
    never for a message made from a stored generation (a picked image, anything under a
    result): that speaks ``speech(record.locale)``, the language the result was posted in.
    """
    return speech(public_locale(interaction))
