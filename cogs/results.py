"""Buttons under every result: Re-roll, Variations, Edit, Info, Delete.

They are ``DynamicItem``s whose ``custom_id`` holds only the generation id, and every
press reads the parameters back from the usage log. No state lives in memory, so a
button pressed after a restart, or a week later, behaves exactly the same.

The Edit dialog follows the same rule: its ``custom_id`` names the generation and its
submission is handled by a listener that reads everything from the interaction and
the database, so a dialog left open while the bot restarted still works.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import discord
from discord.ext import commands

from bot.jobs import remix
from bot.policy.places import belongs_here, parse_record_id, valid_record_id
from bot.siraya import MAX_SEED, PROMPT_MAX_LENGTH, GenerationRequest
from bot.store.base import GenerationRecord
from cogs.common import messages
from cogs.common.budget import in_time
from cogs.common.checks import log_refused_press, refuse_stray_press
from cogs.common.flow import apologising, send_ephemeral

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


PREFIX = "gen:"
RESULT_BUTTON = re.compile(r"gen:(?P<action>reroll|vary|edit|info|delete):(?P<id>[0-9]{1,19})")
"""Presses the buttons answer; any other ``gen:`` press gets a private refusal."""


class ResultButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=RESULT_BUTTON,
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
        async with apologising(interaction, f"the {self.action} button"):
            await self._act(interaction)

    async def _act(self, interaction: discord.Interaction[ImagineBot]) -> None:
        bot = interaction.client
        if not valid_record_id(self.generation_id):  # 19 digits can exceed 2^63-1
            await send_ephemeral(interaction, messages.button_not_valid())
            return
        record = await in_time(interaction, bot.store.get_generation(self.generation_id))
        if record is None and self.action == "delete" and interaction.permissions.manage_messages:
            await _delete(interaction, None)  # a moderator can still tidy up a result
            return
        if record is None:  # generations rows go only when pruned (RETENTION_DAYS)
            await send_ephemeral(interaction, messages.result_too_old(bot.settings.retention_days))
            return
        if not _belongs_here(record, interaction):
            log_refused_press(self.custom_id, interaction)
            await send_ephemeral(interaction, messages.button_not_valid())
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
            await interaction.response.send_modal(EditModal(record))
        elif self.action == "info":
            await interaction.response.send_message(
                embed=messages.info_embed(record), ephemeral=True
            )
        else:
            await _delete(interaction, record)


def _belongs_here(record: GenerationRecord, interaction: discord.Interaction) -> bool:
    return belongs_here(
        record_guild_id=record.guild_id,
        record_user_id=record.user_id,
        guild_id=interaction.guild_id,
        user_id=interaction.user.id,
    )


def result_view(generation_id: int) -> discord.ui.View:
    """The row of buttons under a result (no timeout: they live as long as the message)."""
    view = discord.ui.View(timeout=None)
    for action in ACTIONS:
        view.add_item(ResultButton(action, generation_id))
    return view


async def _delete(interaction: discord.Interaction, record: GenerationRecord | None) -> None:
    """Delete a result for its owner or a moderator (only a moderator once the record is gone).

    Only the result's own message: a Delete naming one generation on another message
    (a forged custom id) would otherwise let a member delete anything the bot posted.
    """
    pressed = interaction.message.id if interaction.message else None
    if record is not None and (record.message_id is None or record.message_id != pressed):
        log_refused_press(f"gen:delete:{record.id}", interaction)
        await send_ephemeral(interaction, messages.button_not_valid())
        return
    is_owner = record is not None and interaction.user.id == record.user_id
    if not (is_owner or interaction.permissions.manage_messages):
        assert record is not None
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
        log.warning("could not delete a result message: %s", error)
        await interaction.followup.send(messages.delete_failed(), ephemeral=True)
        return
    await interaction.followup.send("🗑️ Deleted.", ephemeral=True)


EDIT_FORM_PREFIX = "gen:edit-form:"
GUIDANCE_MAX_CHARS = 24
"""Room for any float's shortest exact text (``repr``), so a precise guidance fits."""


class EditModal(discord.ui.Modal, title="Edit and generate again"):
    """The dialog, pre-filled with the stored settings. It only draws the form.

    Submissions are handled by :meth:`Results.on_edit_submitted` from the interaction
    alone, not by this object, which the process that opened it may no longer have.
    """

    def __init__(self, record: GenerationRecord) -> None:
        super().__init__(timeout=15 * 60, custom_id=f"{EDIT_FORM_PREFIX}{record.id}")
        params = record.params
        self.add_item(
            discord.ui.TextInput(
                label="Prompt",
                custom_id="prompt",
                style=discord.TextStyle.paragraph,
                default=params.prompt,
                max_length=PROMPT_MAX_LENGTH,
            )
        )
        self.add_item(
            discord.ui.TextInput(
                label="Seed (empty for a random one)",
                custom_id="seed",
                default=str(params.seed),
                required=False,
                max_length=len(str(MAX_SEED)),
            )
        )
        self.add_item(
            discord.ui.TextInput(
                label="Steps (1–50)", custom_id="steps", default=str(params.steps), max_length=2
            )
        )
        self.add_item(
            discord.ui.TextInput(
                label="Guidance (1–20)",
                custom_id="guidance",
                default=messages.exact_number(params.guidance),
                max_length=GUIDANCE_MAX_CHARS,
            )
        )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """Nothing: the listener answers every submission, whichever process opened it."""


def edit_request(record: GenerationRecord, values: Mapping[str, str]) -> GenerationRequest:
    """The dialog's answers applied to the stored settings; a ValueError says what to fix."""
    seed_text = values.get("seed", "").strip()
    return remix.edited(
        record.params,
        prompt=values.get("prompt", record.params.prompt).strip(),
        seed=_number(seed_text, "Seed", int) if seed_text else None,
        steps=_number(values.get("steps", ""), "Steps", int),
        guidance=_number(values.get("guidance", ""), "Guidance", float),
    )


def submitted_values(components: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """``custom_id`` → text of every text input in a modal submission (rows or labels)."""
    values: dict[str, str] = {}
    for component in components:
        inner: list[Mapping[str, Any]] = list(component.get("components") or [])
        if isinstance(component.get("component"), Mapping):
            inner.append(component["component"])
        if "custom_id" in component and isinstance(component.get("value"), str):
            values[component["custom_id"]] = component["value"]
        values.update(submitted_values(inner))
    return values


def _number(text: str, name: str, kind: type[int] | type[float]) -> Any:
    try:
        return kind(text.strip().replace(",", "."))
    except ValueError:
        expected = "a whole number" if kind is int else "a number"
        raise ValueError(f"{name} must be {expected}; you typed “{text.strip()}”.") from None


class Results(commands.Cog):
    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot

    @commands.Cog.listener("on_interaction")
    async def on_edit_submitted(self, interaction: discord.Interaction[ImagineBot]) -> None:
        """Start the edited generation, or say privately what to fix in the dialog."""
        if interaction.type is not discord.InteractionType.modal_submit:
            return
        data = cast("Mapping[str, Any]", interaction.data or {})
        custom_id = data.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id.startswith(PREFIX):
            return
        async with apologising(interaction, "the edit dialog"):
            generation_id = parse_record_id(custom_id.removeprefix(EDIT_FORM_PREFIX))
            if not custom_id.startswith(EDIT_FORM_PREFIX) or generation_id is None:
                log_refused_press(custom_id, interaction)
                await send_ephemeral(interaction, messages.button_not_valid())
                return
            record = await in_time(interaction, self.bot.store.get_generation(generation_id))
            if record is None:  # pruned (RETENTION_DAYS) while the dialog was open
                retention = self.bot.settings.retention_days
                await send_ephemeral(interaction, messages.result_too_old(retention))
                return
            if not _belongs_here(record, interaction):
                log_refused_press(custom_id, interaction)
                await send_ephemeral(interaction, messages.button_not_valid())
                return
            try:
                request = edit_request(record, submitted_values(data.get("components") or []))
            except ValueError as error:
                await send_ephemeral(interaction, str(error))
                return
            source_url = interaction.message.jump_url if interaction.message else None
            await self.bot.flow.start(
                interaction, request, parent_id=record.id, source_url=source_url
            )

    @commands.Cog.listener("on_interaction")
    async def on_stray_press(self, interaction: discord.Interaction[ImagineBot]) -> None:
        """Refuse a ``gen:`` press no button will answer (a forged or garbled custom id)."""
        await refuse_stray_press(interaction, PREFIX, RESULT_BUTTON)

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(ResultButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(ResultButton)


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(Results(bot))
