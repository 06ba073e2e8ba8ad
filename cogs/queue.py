"""``/queue`` and the Cancel button: members see where their requests stand, and can withdraw.

The Cancel button is a ``DynamicItem`` carrying only the generation id, like the
result buttons, so it keeps working for jobs resumed after a restart.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.i18n import ENGLISH, Speech
from bot.jobs.service import Job, JobState
from bot.policy.places import NO_SERVER, valid_record_id
from bot.store.base import GenerationRecord
from cogs.common import messages
from cogs.common.budget import in_time
from cogs.common.checks import refuse_stray_press
from cogs.common.flow import apologising, send_ephemeral
from cogs.common.places import ledger_guild_id
from cogs.common.translator import locale_str
from cogs.common.voices import to_member

if TYPE_CHECKING:
    from bot.app import ImagineBot

QUEUE_LINES = 15


PREFIX = "job:"
CANCEL_BUTTON = re.compile(r"job:cancel:(?P<id>[0-9]{1,19})")
"""Presses the Cancel button answers; any other ``job:`` press gets a private refusal."""


class CancelButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=CANCEL_BUTTON,
):
    """Withdraw a request that is still waiting; it is refunded. Labelled in the language
    ``s`` of the progress line it is under; the custom id is the same in every language."""

    def __init__(self, generation_id: int, s: Speech = ENGLISH) -> None:
        super().__init__(
            discord.ui.Button(
                label=messages.cancel_label(s),
                emoji="🛑",
                style=discord.ButtonStyle.secondary,
                custom_id=f"job:cancel:{generation_id}",
            )
        )
        self.generation_id = generation_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> CancelButton:
        return cls(int(match["id"]))  # rebuilt to answer a press: its label is not shown

    async def callback(self, interaction: discord.Interaction[ImagineBot]) -> None:  # type: ignore[override]
        async with apologising(interaction, "the cancel button"):
            s = to_member(interaction)
            if not valid_record_id(self.generation_id):  # 19 digits can exceed 2^63-1
                await send_ephemeral(interaction, messages.button_not_valid(s))
                return
            perms = interaction.permissions
            guild_id = ledger_guild_id(interaction)
            outcome = interaction.client.generations.cancel(
                self.generation_id,
                actor_id=interaction.user.id,
                # Someone's rights in a server without the bot are nothing to the owner.
                is_moderator=guild_id != NO_SERVER
                and (perms.manage_messages or perms.manage_guild),
                guild_id=guild_id,
            )
            await interaction.response.send_message(
                messages.cancel_outcome(s, outcome), ephemeral=True
            )


def cancel_view(job: Job, s: Speech = ENGLISH) -> discord.ui.View:
    """The Cancel button under a waiting job's progress line, in the line's language."""
    view = discord.ui.View(timeout=None)
    view.add_item(CancelButton(job.generation_id, s))
    return view


class Queue(commands.Cog):
    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(CancelButton)
        self.bot.flow.use_views(cancel=cancel_view)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(CancelButton)

    @commands.Cog.listener("on_interaction")
    async def on_stray_press(self, interaction: discord.Interaction[ImagineBot]) -> None:
        """Refuse a ``job:`` press the Cancel button will not answer (forged or garbled)."""
        await refuse_stray_press(interaction, PREFIX, CANCEL_BUTTON)

    @app_commands.command(
        name="queue", description=locale_str("See your images waiting or being generated")
    )
    @app_commands.guild_only()
    async def queue(self, interaction: discord.Interaction[ImagineBot]) -> None:
        s = to_member(interaction)
        guild_id = ledger_guild_id(interaction)
        moderator = guild_id != NO_SERVER and interaction.permissions.manage_guild
        records = await in_time(interaction, self.bot.store.in_flight(guild_id))
        if not moderator:
            records = [r for r in records if r.user_id == interaction.user.id]
        lines = [self._line(s, record, show_owner=moderator) for record in records[:QUEUE_LINES]]
        embed = messages.queue_embed(
            s, lines, total=len(records), whole_server=moderator, hidden=len(records) - len(lines)
        )
        await interaction.response.send_message(embed=embed, ephemeral=True)

    def _line(self, s: Speech, record: GenerationRecord, *, show_owner: bool) -> str:
        service = self.bot.generations
        job = service.job(record.id)
        if job is None:
            state = messages.queue_state(s, position=None, elapsed=None)
        elif job.state is JobState.QUEUED and service.position(job) > 0:
            state = messages.queue_state(s, position=service.position(job), elapsed=None)
        else:
            state = messages.queue_state(s, position=None, elapsed=service.elapsed(job))
        return messages.queue_line(s, record, state, show_owner=show_owner)


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(Queue(bot))
