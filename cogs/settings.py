"""``/settings``: moderators choose where ``/imagine`` works, what it refuses, its styles."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.i18n import CHOOSABLE
from bot.jobs.service import Busy
from bot.policy.rules import BlockedWordRefused, normalize_blocked_word
from bot.policy.styles import STYLE_NAME_MAX, STYLE_TEXT_MAX, StyleRefused
from cogs.common import messages
from cogs.common.budget import in_time
from cogs.common.checks import ModeratorOnly
from cogs.common.translator import locale_str
from cogs.common.voices import server_locale, to_member
from cogs.common.workspace import style_choices

if TYPE_CHECKING:
    from bot.app import ImagineBot

WORD_MAX_LENGTH = 100
SERVERS_OWN = "server"
"""The ``/settings language`` choice that clears the moderators' choice."""
LANGUAGE_CHOICES = [
    # TRANSLATORS: a choice of /settings language (at most 100 characters): public messages
    # follow the language the server set in Discord (Server Settings → Community).
    app_commands.Choice(name=locale_str("Server's own (Discord)"), value=SERVERS_OWN),
    *(app_commands.Choice(name=name, value=code) for code, name in CHOOSABLE.items()),
]
"""Each language in its own name, shown the same in every language."""
NSFW_SAFETY_CHOICES = [
    # TRANSLATORS: a choice of /settings nsfw-safety (at most 100 characters): the safety
    # checker also runs in channels marked NSFW. Translate it whole, "on" too: start with
    # your word for "on" as /settings show and the reply say it.
    app_commands.Choice(name=locale_str("on (check images in NSFW channels too)"), value="on"),
    # TRANSLATORS: a choice of /settings nsfw-safety (at most 100 characters): no safety
    # checker in channels marked NSFW (it always runs in the others). Translate it whole,
    # "off" too: start with your word for "off" as /settings show and the reply say it.
    app_commands.Choice(name=locale_str("off (no checker in NSFW channels)"), value="off"),
]


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Settings(
    ModeratorOnly,
    commands.GroupCog,
    group_name="settings",
    group_description=locale_str("Where /imagine works and what it refuses (moderators)"),
):
    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot
        super().__init__()

    @app_commands.command(name="show", description=locale_str("Show this server's image settings"))
    async def show(self, interaction: discord.Interaction) -> None:
        guild_id = interaction.guild_id or 0
        policy = await in_time(interaction, self.bot.store.guild_policy(guild_id))
        styles = await in_time(interaction, self.bot.store.styles(guild_id))
        s = to_member(interaction)
        embed = messages.settings_embed(
            s,
            policy,
            env_nsfw_safety=self.bot.settings.nsfw_safety_checker,
            styles=styles,
            language=messages.language_name(s, policy.language, server_locale(interaction)),
        )
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @app_commands.command(
        name="allow-channel", description=locale_str("Let /imagine work in a channel")
    )
    @app_commands.describe(
        channel=locale_str("Once any channel is allowed, /imagine works only in those")
    )
    async def allow_channel(
        self, interaction: discord.Interaction, channel: discord.TextChannel
    ) -> None:
        changed = await in_time(
            interaction,
            self.bot.store.allow_channel(
                channel.guild.id, channel.id, actor_id=interaction.user.id
            ),
        )
        await self._reply(
            interaction,
            messages.channel_allowed(to_member(interaction), channel.mention, changed=changed),
        )

    @app_commands.command(
        name="disallow-channel", description=locale_str("Stop /imagine in a channel")
    )
    @app_commands.describe(channel=locale_str("A channel previously allowed"))
    async def disallow_channel(
        self, interaction: discord.Interaction, channel: discord.TextChannel
    ) -> None:
        changed = await in_time(
            interaction,
            self.bot.store.disallow_channel(
                channel.guild.id, channel.id, actor_id=interaction.user.id
            ),
        )
        s = to_member(interaction)
        if not changed:
            await self._reply(
                interaction,
                messages.channel_disallowed(s, channel.mention, changed=False, none_left=False),
            )
            return
        try:  # the change is made: a slow read now only shortens the answer
            policy = await in_time(interaction, self.bot.store.guild_policy(channel.guild.id))
        except Busy:
            policy = None
        none_left = policy is not None and not policy.allowed_channel_ids
        await self._reply(
            interaction,
            messages.channel_disallowed(s, channel.mention, changed=True, none_left=none_left),
        )

    @app_commands.command(
        name="block-word", description=locale_str("Refuse prompts containing a word or phrase")
    )
    @app_commands.describe(word=locale_str("Matched case-insensitively, as a whole word or phrase"))
    async def block_word(
        self,
        interaction: discord.Interaction,
        word: app_commands.Range[str, 1, WORD_MAX_LENGTH],
    ) -> None:
        s = to_member(interaction)
        try:
            rule = normalize_blocked_word(word)
            changed = await in_time(
                interaction,
                self.bot.store.block_word(
                    interaction.guild_id or 0, word, actor_id=interaction.user.id
                ),
            )
        except BlockedWordRefused as error:  # empty, too long once normalised, or list full
            await self._reply(interaction, messages.word_not_changed(s, error))
            return
        await self._reply(interaction, messages.word_blocked(s, rule, changed=changed))

    @app_commands.command(
        name="unblock-word", description=locale_str("Allow a blocked word or phrase again")
    )
    @app_commands.describe(word=locale_str("A word or phrase previously blocked"))
    async def unblock_word(
        self,
        interaction: discord.Interaction,
        word: app_commands.Range[str, 1, WORD_MAX_LENGTH],
    ) -> None:
        s = to_member(interaction)
        try:
            rule = normalize_blocked_word(word)
            changed = await in_time(
                interaction,
                self.bot.store.unblock_word(
                    interaction.guild_id or 0, word, actor_id=interaction.user.id
                ),
            )
        except BlockedWordRefused as error:  # a word that could never have been blocked
            await self._reply(interaction, messages.word_not_changed(s, error))
            return
        await self._reply(interaction, messages.word_unblocked(s, rule, changed=changed))

    @app_commands.command(
        name="nsfw-safety",
        description=locale_str("Keep the safety checker on in NSFW channels, or not"),
    )
    @app_commands.describe(
        state=locale_str("Outside NSFW channels the safety checker is always on")
    )
    @app_commands.choices(state=NSFW_SAFETY_CHOICES)
    async def nsfw_safety(
        self, interaction: discord.Interaction, state: app_commands.Choice[str]
    ) -> None:
        enabled = state.value == "on"
        await in_time(
            interaction,
            self.bot.store.set_nsfw_safety(
                interaction.guild_id or 0, enabled, actor_id=interaction.user.id
            ),
        )
        await self._reply(interaction, messages.nsfw_safety_set(to_member(interaction), enabled))

    @app_commands.command(
        name="add-style", description=locale_str("Add a style members can pick in /imagine")
    )
    @app_commands.describe(
        name=locale_str(
            "What members pick (up to {count} characters); reusing a name updates it",
            count=STYLE_NAME_MAX,
        ),
        text=locale_str(
            "Added to the prompt (up to {count} characters), e.g. watercolor, soft",
            count=STYLE_TEXT_MAX,
        ),
    )
    async def add_style(
        self,
        interaction: discord.Interaction,
        name: app_commands.Range[str, 1, STYLE_NAME_MAX],
        text: app_commands.Range[str, 1, STYLE_TEXT_MAX],
    ) -> None:
        s = to_member(interaction)
        try:
            replaced = await in_time(
                interaction,
                self.bot.store.add_style(
                    interaction.guild_id or 0, name, text, actor_id=interaction.user.id
                ),
            )
        except StyleRefused as error:  # blank, or the server already has the most styles
            await self._reply(interaction, messages.style_not_changed(s, error))
            return
        await self._reply(interaction, messages.style_saved(s, " ".join(name.split()), replaced))

    @app_commands.command(
        name="remove-style", description=locale_str("Remove one of this server's styles")
    )
    @app_commands.describe(name=locale_str("The style's name"))
    @app_commands.autocomplete(name=style_choices)
    async def remove_style(
        self, interaction: discord.Interaction, name: app_commands.Range[str, 1, STYLE_NAME_MAX]
    ) -> None:
        removed = await in_time(
            interaction,
            self.bot.store.remove_style(
                interaction.guild_id or 0, name, actor_id=interaction.user.id
            ),
        )
        await self._reply(
            interaction, messages.style_removed(to_member(interaction), name, removed)
        )

    @app_commands.command(
        name="log-channel",
        description=locale_str("Also post every generation in a channel, or stop"),
    )
    @app_commands.describe(
        channel=locale_str(
            "Where moderators see each generation and refusal; leave empty to turn it off"
        )
    )
    async def log_channel(
        self, interaction: discord.Interaction, channel: discord.TextChannel | None = None
    ) -> None:
        guild_id = interaction.guild_id or 0
        if channel is None:
            old = await in_time(
                interaction,
                self.bot.store.set_log_channel(guild_id, None, actor_id=interaction.user.id),
            )
            await self._reply(
                interaction,
                messages.log_channel_off(
                    to_member(interaction), None if old is None else f"<#{old}>"
                ),
            )
            return
        missing = missing_log_permissions(channel)
        if missing:
            await self._reply(
                interaction,
                messages.log_channel_unusable(to_member(interaction), channel.mention, missing),
            )
            return
        await in_time(
            interaction,
            self.bot.store.set_log_channel(guild_id, channel.id, actor_id=interaction.user.id),
        )
        await self._reply(
            interaction, messages.log_channel_set(to_member(interaction), channel.mention)
        )

    @app_commands.command(
        name="language",
        description=locale_str("The language of results and other public messages here"),
    )
    @app_commands.describe(
        language=locale_str("Private replies always follow each member's own Discord language")
    )
    @app_commands.choices(language=LANGUAGE_CHOICES)
    async def language(
        self, interaction: discord.Interaction, language: app_commands.Choice[str]
    ) -> None:
        chosen = None if language.value == SERVERS_OWN else language.value
        guild_id = interaction.guild_id or 0
        old = await in_time(
            interaction,
            self.bot.store.set_language(guild_id, chosen, actor_id=interaction.user.id),
        )
        s = to_member(interaction)
        await self._reply(
            interaction, messages.language_set(s, chosen, old, server_locale(interaction))
        )


def missing_log_permissions(channel: discord.TextChannel) -> list[str]:
    """What the bot lacks to post log entries in ``channel`` (empty: it can), by name."""
    me = channel.guild.me
    perms = channel.permissions_for(me)
    have = (perms.view_channel, perms.send_messages, perms.embed_links, perms.attach_files)
    return [name for name, ok in zip(messages.LOG_NEEDS, have, strict=True) if not ok]


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(Settings(bot))
