"""Buttons under every result: Re-roll, Variations, Edit, Info, Delete.

They are ``DynamicItem``s whose ``custom_id`` holds only the generation id, and every
press reads the parameters back from the usage log. No state lives in memory, so a
button pressed after a restart, or a week later, behaves exactly the same.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from bot.jobs import remix
from bot.siraya import MAX_SEED, PROMPT_MAX_LENGTH, GenerationRequest
from bot.store.base import GenerationRecord
from cogs.common import messages
from cogs.common.flow import send_ephemeral

if TYPE_CHECKING:
    from bot.app import ImagineBot

log = logging.getLogger(__name__)

ACTIONS: dict[str, tuple[str, str, discord.ButtonStyle]] = {
    "reroll": ("Re-roll", "🎲", discord.ButtonStyle.primary),
    "vary": ("Variations", "🔀", discord.ButtonStyle.secondary),
    "edit": ("Edit", "✏️", discord.ButtonStyle.secondary),
    "info": ("Info", "ℹ️", discord.ButtonStyle.secondary),
    "delete": ("Delete", "🗑️", discord.ButtonStyle.danger),
}


class ResultButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"gen:(?P<action>reroll|vary|edit|info|delete):(?P<id>[0-9]{1,19})",
):
    """One action on one generation; the custom_id is all the state there is."""

    def __init__(self, action: str, generation_id: int) -> None:
        label, emoji, style = ACTIONS[action]
        super().__init__(
            discord.ui.Button(
                label=label,
                emoji=emoji,
                style=style,
                custom_id=f"gen:{action}:{generation_id}",
            )
        )
        self.action = action
        self.generation_id = generation_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> ResultButton:
        return cls(match["action"], int(match["id"]))

    async def callback(self, interaction: discord.Interaction[ImagineBot]) -> None:  # type: ignore[override]
        bot = interaction.client
        record = await bot.store.get_generation(self.generation_id)
        if record is None:
            await send_ephemeral(interaction, messages.record_missing())
            return
        source_url = interaction.message.jump_url if interaction.message else None
        if self.action == "reroll":
            await bot.flow.start(
                interaction, remix.reroll(record.params), parent_id=record.id, source_url=source_url
            )
        elif self.action == "vary":
            await bot.flow.start(
                interaction,
                remix.variations(record.params),
                parent_id=record.id,
                source_url=source_url,
            )
        elif self.action == "edit":
            await interaction.response.send_modal(EditModal(record, source_url))
        elif self.action == "info":
            await interaction.response.send_message(
                embed=messages.info_embed(record), ephemeral=True
            )
        else:
            await _delete(interaction, record)


def result_view(generation_id: int) -> discord.ui.View:
    """The row of buttons under a result (no timeout: they live as long as the message)."""
    view = discord.ui.View(timeout=None)
    for action in ACTIONS:
        view.add_item(ResultButton(action, generation_id))
    return view


async def _delete(interaction: discord.Interaction, record: GenerationRecord) -> None:
    is_owner = interaction.user.id == record.user_id
    if not (is_owner or interaction.permissions.manage_messages):
        await send_ephemeral(interaction, messages.delete_refused(record.user_id))
        return
    if interaction.message is None:
        await send_ephemeral(interaction, messages.record_missing())
        return
    await interaction.response.defer(ephemeral=True, thinking=True)
    try:
        await interaction.message.delete()
    except discord.NotFound:
        pass  # someone else deleted it first: the member's wish is met either way
    except discord.HTTPException as error:
        log.warning("could not delete result of generation %s: %s", record.id, error)
        await interaction.followup.send(messages.delete_failed(), ephemeral=True)
        return
    await interaction.followup.send("🗑️ Deleted.", ephemeral=True)


class EditModal(discord.ui.Modal, title="Edit and generate again"):
    """Pre-filled with the stored settings; submitting starts a new generation."""

    def __init__(self, record: GenerationRecord, source_url: str | None) -> None:
        super().__init__(timeout=15 * 60)
        self.record = record
        self.source_url = source_url
        params = record.params
        self.prompt: discord.ui.TextInput[EditModal] = discord.ui.TextInput(
            label="Prompt",
            style=discord.TextStyle.paragraph,
            default=params.prompt,
            max_length=PROMPT_MAX_LENGTH,
        )
        self.seed: discord.ui.TextInput[EditModal] = discord.ui.TextInput(
            label="Seed (empty for a random one)",
            default=str(params.seed),
            required=False,
            max_length=len(str(MAX_SEED)),
        )
        self.steps: discord.ui.TextInput[EditModal] = discord.ui.TextInput(
            label="Steps (1–50)", default=str(params.steps), max_length=2
        )
        self.guidance: discord.ui.TextInput[EditModal] = discord.ui.TextInput(
            label="Guidance (1–20)", default=f"{params.guidance:g}", max_length=6
        )
        for item in (self.prompt, self.seed, self.steps, self.guidance):
            self.add_item(item)

    async def on_submit(self, interaction: discord.Interaction[ImagineBot]) -> None:  # type: ignore[override]
        try:
            request = self.to_request()
        except ValueError as error:
            await send_ephemeral(interaction, str(error))
            return
        await interaction.client.flow.start(
            interaction, request, parent_id=self.record.id, source_url=self.source_url
        )

    def to_request(self) -> GenerationRequest:
        """Parse the dialog; a ValueError's text tells the member what to fix."""
        seed_text = self.seed.value.strip()
        return remix.edited(
            self.record.params,
            prompt=self.prompt.value.strip(),
            seed=_number(seed_text, "Seed", int) if seed_text else None,
            steps=_number(self.steps.value, "Steps", int),
            guidance=_number(self.guidance.value, "Guidance", float),
        )

    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction, error: Exception
    ) -> None:
        log.exception("edit dialog failed", exc_info=error)
        await send_ephemeral(interaction, messages.unexpected_error())


def _number(text: str, name: str, kind: type[int] | type[float]) -> Any:
    try:
        return kind(text.strip().replace(",", "."))
    except ValueError:
        expected = "a whole number" if kind is int else "a number"
        raise ValueError(f"{name} must be {expected}; you typed “{text.strip()}”.") from None


class Results(commands.Cog):
    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(ResultButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(ResultButton)


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(Results(bot))
