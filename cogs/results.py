"""Buttons under every result: Re-roll, Variations, Edit, Info, Delete, and U1…U4.

They are ``DynamicItem``s whose ``custom_id`` holds only the generation id (and an image
number: ``gen:pick:<id>:<k>`` for U<k>, ``gen:<action>:<id>:<k>`` under a picked image),
and every press reads the parameters back from the usage log. No state lives in memory,
so a button pressed after a restart, or a week later, behaves exactly the same.

U<k> under a result of several images posts image k alone, full size, where the result
is, with its own Re-roll, Edit, Info and Delete: no generation, no charge. The image is
read back from the result message's own attachment (bounded in time and size), never
from the provider.

The Edit dialog follows the same rule: its ``custom_id`` names the generation and its
submission is handled by a listener that reads everything from the interaction and
the database, so a dialog left open while the bot restarted still works.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import discord
from discord.ext import commands

from bot.i18n import ENGLISH, Speech, speech
from bot.jobs import remix
from bot.policy.places import NO_SERVER, belongs_here, parse_record_id, valid_record_id
from bot.siraya import (
    MAX_GUIDANCE,
    MAX_SEED,
    MAX_STEPS,
    MIN_GUIDANCE,
    MIN_STEPS,
    PROMPT_MAX_LENGTH,
    GenerationRequest,
)
from bot.store.base import GenerationRecord, Reach
from cogs.common import messages
from cogs.common.budget import in_time
from cogs.common.checks import log_refused_press, refuse_stray_press
from cogs.common.flow import apologising, send_ephemeral
from cogs.common.places import ledger_guild_id, place_of_interaction
from cogs.common.voices import to_member

if TYPE_CHECKING:
    from bot.app import ImagineBot

log = logging.getLogger(__name__)

ACTIONS: dict[str, tuple[str, discord.ButtonStyle]] = {
    "reroll": ("🎲", discord.ButtonStyle.primary),
    "vary": ("🔀", discord.ButtonStyle.secondary),
    "edit": ("✏️", discord.ButtonStyle.secondary),
    "info": ("ℹ️", discord.ButtonStyle.secondary),
    "delete": ("🗑️", discord.ButtonStyle.danger),
    "pick": ("", discord.ButtonStyle.secondary),
}
"""Each action's emoji and style; its label is a text of the catalog
(``messages.action_label``, ``messages.pick_label``), in the result's language."""
PICKED_ACTIONS = ("reroll", "edit", "info", "delete")
"""The buttons under one picked image (Variations stays with the whole result)."""

PICK_FETCH_TIMEOUT = 20.0
"""Seconds to read a picked image back from Discord before giving up politely."""

PICK_SIZE_CAP = 25 * 1024 * 1024
"""No attachment the bot posted is larger (Discord's own request limit)."""

PREFIX = "gen:"
RESULT_BUTTON = re.compile(
    r"gen:(?P<action>reroll|vary|edit|info|delete|pick):(?P<id>[0-9]{1,19})(?::(?P<number>[1-4]))?"
)
"""Presses the buttons answer; any other ``gen:`` press gets a private refusal."""


class ResultButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=RESULT_BUTTON,
):
    """One action on one generation (or on one image of it, ``number``); the custom_id is
    all the state there is. The label is in the language ``s`` of the message the button
    is under; the custom id is the same in every language, so a button posted in any of
    them still works after a restart."""

    def __init__(
        self, action: str, generation_id: int, number: int | None = None, s: Speech = ENGLISH
    ) -> None:
        emoji, style = ACTIONS[action]
        suffix = "" if number is None else f":{number}"
        if action == "pick":
            label = messages.pick_label(s, number or 0)
        else:
            label = messages.action_label(s, action)
        super().__init__(
            discord.ui.Button(
                label=label,
                emoji=emoji or None,
                style=style,
                custom_id=f"gen:{action}:{generation_id}{suffix}",
                row=1 if action == "pick" else 0,
            )
        )
        self.action = action
        self.generation_id = generation_id
        self.number = number

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> ResultButton:
        number = match["number"]
        # Rebuilt to answer a press, never shown: the label's language does not matter.
        return cls(match["action"], int(match["id"]), int(number) if number else None)

    async def callback(self, interaction: discord.Interaction[ImagineBot]) -> None:  # type: ignore[override]
        async with apologising(interaction, f"the {self.action} button"):
            await self._act(interaction)

    async def _act(self, interaction: discord.Interaction[ImagineBot]) -> None:
        bot = interaction.client
        s = to_member(interaction)  # every answer here is private (new results: see flow)
        if not valid_record_id(self.generation_id):  # 19 digits can exceed 2^63-1
            await send_ephemeral(interaction, messages.button_not_valid(s))
            return
        record = await in_time(interaction, bot.store.get_generation(self.generation_id))
        if record is None and self.action == "delete" and _moderates_here(interaction):
            await _delete(interaction, None)  # a moderator can still tidy up a result
            return
        if record is None:  # generations rows go only when pruned (RETENTION_DAYS)
            retention = bot.settings.retention_days
            await send_ephemeral(interaction, messages.result_too_old(s, retention))
            return
        number = self.number
        in_range = number is None or number <= record.params.count
        if not _belongs_here(record, interaction) or not in_range:
            log_refused_press(self.custom_id, interaction)
            await send_ephemeral(interaction, messages.button_not_valid(s))
            return
        params = record.params if number is None else remix.picked(record.params, number)
        source_url = interaction.message.jump_url if interaction.message else None
        if self.action == "pick":
            await _pick(interaction, record, number)
        elif self.action == "reroll":
            await bot.flow.start(
                interaction,
                remix.reroll(params),
                parent_id=record.id,
                source_url=source_url,
                private=_private(record),
            )
        elif self.action == "vary":
            await bot.flow.start(
                interaction,
                remix.variations(record.params),
                parent_id=record.id,
                source_url=source_url,
                private=_private(record),
            )
        elif self.action == "edit":
            await interaction.response.send_modal(EditModal(s, record, number))
        elif self.action == "info":
            embed = messages.info_embed(
                s, record, numbers=_numbers_shown(interaction, record), picked=number
            )
            await interaction.response.send_message(embed=embed, ephemeral=True)
        else:
            await _delete(interaction, record, number)


def _numbers_shown(interaction: discord.Interaction, record: GenerationRecord) -> list[int]:
    """The image numbers the pressed result holds (fewer than asked if some never came)."""
    attachments = interaction.message.attachments if interaction.message else []
    found = (messages.image_number(a.filename, record.id) for a in attachments)
    return sorted({n for n in found if n is not None and n <= record.params.count})


def _attachment(
    interaction: discord.Interaction, record: GenerationRecord, number: int
) -> discord.Attachment | None:
    """Image ``number`` of ``record`` as the pressed result message holds it."""
    attachments = interaction.message.attachments if interaction.message else []
    for attachment in attachments:
        if messages.image_number(attachment.filename, record.id) == number:
            return attachment
    return None


async def _pick(
    interaction: discord.Interaction[ImagineBot], record: GenerationRecord, number: int | None
) -> None:
    """U<k>: post image k alone, full size, under the result, with its own buttons.

    Costs nothing and calls no provider: the image is read back from the result's own
    attachment. For the result's owner and moderators (anyone else could fill a channel
    with copies at no cost); private when the result is private. The post is in the
    language the result was posted in (``record.locale``, decided when it was made and
    kept with it, so a restart or another process changes nothing; the member's, when
    private), refusals in the member's.
    """
    s = to_member(interaction)
    attachment = _attachment(interaction, record, number) if number else None
    if number is None or attachment is None or attachment.size > PICK_SIZE_CAP:
        log_refused_press(f"gen:pick:{record.id}:{number}", interaction)
        await send_ephemeral(interaction, messages.button_not_valid(s))
        return
    if interaction.user.id != record.user_id and not _moderates_here(interaction):
        await send_ephemeral(interaction, messages.pick_refused(s, record.user_id))
        return
    message = interaction.message
    private = bool(message is not None and message.flags.ephemeral)
    shown_in = s if private else speech(record.locale)
    await interaction.response.defer(thinking=True, ephemeral=private)
    try:
        async with asyncio.timeout(PICK_FETCH_TIMEOUT):
            data = await attachment.read()
        if len(data) > PICK_SIZE_CAP:
            raise ValueError(f"attachment is {len(data)} bytes")
    except (TimeoutError, ValueError, discord.HTTPException) as error:
        log.warning("could not read image %s of generation %s: %r", number, record.id, error)
        await _answer_instead(interaction, messages.pick_failed(s))
        return
    params = remix.picked(record.params, number)
    embed = messages.picked_embed(
        shown_in,
        record,
        params,
        number=number,
        filename=attachment.filename,
        picked_by=interaction.user.display_name,
        source_url=message.jump_url if message else None,
    )
    try:
        async with asyncio.timeout(PICK_FETCH_TIMEOUT):
            await interaction.edit_original_response(
                embed=embed,
                attachments=[discord.File(io.BytesIO(data), filename=attachment.filename)],
                view=picked_view(record.id, number, shown_in),
            )
    except (TimeoutError, discord.HTTPException) as error:
        # Else the public "thinking…" line would stay behind, unanswered.
        log.warning("could not post image %s of generation %s: %r", number, record.id, error)
        await _answer_instead(interaction, messages.pick_failed(s))


async def _answer_instead(interaction: discord.Interaction, text: str) -> None:
    """Replace a public "thinking…" line with a private answer."""
    try:
        await interaction.delete_original_response()
    except discord.HTTPException as error:
        log.info("could not remove a pick's thinking line: %r", error)
    await interaction.followup.send(text, ephemeral=True)


def _moderates_here(interaction: discord.Interaction) -> bool:
    """Manage Messages in one of the bot's servers; rights elsewhere are not the owner's."""
    return ledger_guild_id(interaction) != NO_SERVER and interaction.permissions.manage_messages


def _private(record: GenerationRecord) -> bool:
    """A private result's re-rolls, variations and edits stay private too."""
    return record.reach is Reach.PRIVATE


def _belongs_here(record: GenerationRecord, interaction: discord.Interaction) -> bool:
    return belongs_here(
        record_guild_id=record.guild_id,
        record_user_id=record.user_id,
        guild_id=ledger_guild_id(interaction),
        user_id=interaction.user.id,
    )


def result_view(
    generation_id: int, numbers: Sequence[int] = (), s: Speech = ENGLISH
) -> discord.ui.View:
    """The buttons under a result (no timeout: they live as long as the message): a row
    of actions, and U1…U4 below it when it holds several images (``numbers``), labelled
    in the result's language ``s``."""
    view = discord.ui.View(timeout=None)
    for action in ACTIONS:
        if action != "pick":
            view.add_item(ResultButton(action, generation_id, s=s))
    if len(numbers) > 1:
        for number in numbers:
            view.add_item(ResultButton("pick", generation_id, number, s=s))
    return view


def picked_view(generation_id: int, number: int, s: Speech = ENGLISH) -> discord.ui.View:
    """The buttons under one picked image: they act on that image (its seed, count 1)."""
    view = discord.ui.View(timeout=None)
    for action in PICKED_ACTIONS:
        view.add_item(ResultButton(action, generation_id, number, s=s))
    return view


def _is_picked_message(
    interaction: discord.Interaction[ImagineBot], record: GenerationRecord, number: int
) -> bool:
    """Whether the pressed message is the bot's post of image ``number`` of ``record``."""
    message, me = interaction.message, interaction.client.user
    if message is None or me is None or message.author.id != me.id:
        return False
    footer = messages.picked_footer(record.id, number)
    return any(embed.footer.text == footer for embed in message.embeds)


async def _delete(
    interaction: discord.Interaction[ImagineBot],
    record: GenerationRecord | None,
    number: int | None = None,
) -> None:
    """Delete a result for its owner or a moderator (only a moderator once the record is gone).

    Only the result's own message (or, for ``number``, a picked image of it): a Delete
    naming one generation on another message (a forged custom id) would otherwise let a
    member delete anything the bot posted. Every answer is private: the member's language.
    """
    s = to_member(interaction)
    pressed = interaction.message.id if interaction.message else None
    if number is not None and record is not None:
        genuine = _is_picked_message(interaction, record, number)
    else:
        genuine = record is None or (record.message_id is not None and record.message_id == pressed)
    if not genuine:
        assert record is not None
        log_refused_press(f"gen:delete:{record.id}", interaction)
        await send_ephemeral(interaction, messages.button_not_valid(s))
        return
    is_owner = record is not None and interaction.user.id == record.user_id
    if not (is_owner or _moderates_here(interaction)):
        assert record is not None
        await send_ephemeral(interaction, messages.delete_refused(s, record.user_id))
        return
    if interaction.message is None:
        await send_ephemeral(interaction, messages.record_missing(s))
        return
    if record is not None and _private(record):
        # Nobody else sees it, and no bot token reaches an ephemeral message.
        await send_ephemeral(interaction, messages.private_result_dismiss(s))
        return
    if not place_of_interaction(interaction).bot_can_post:
        # A group DM or a server without the bot: its token can only earn a 403 here,
        # and each counts toward Discord's invalid-request ban.
        await send_ephemeral(interaction, messages.delete_not_possible_here(s))
        return
    await interaction.response.defer(ephemeral=True, thinking=True)
    try:
        await interaction.message.delete()
    except discord.NotFound:
        pass  # someone else deleted it first: the member's wish is met either way
    except discord.HTTPException as error:
        log.warning("could not delete a result message: %s", error)
        await interaction.followup.send(messages.delete_failed(s), ephemeral=True)
        return
    await interaction.followup.send(messages.deleted(s), ephemeral=True)


EDIT_FORM_PREFIX = "gen:edit-form:"
EDIT_FORM = re.compile(r"gen:edit-form:(?P<id>[0-9]{1,19})(?::(?P<number>[1-4]))?")
"""The Edit dialog of a generation, or of image ``number`` of it (a picked image)."""
GUIDANCE_MAX_CHARS = 24
"""Room for any float's shortest exact text (``repr``), so a precise guidance fits."""


class EditModal(discord.ui.Modal):
    """The dialog, pre-filled with the stored settings. It only draws the form, in the
    language ``s`` of the member who opened it.

    Submissions are handled by :meth:`Results.on_edit_submitted` from the interaction
    alone, not by this object, which the process that opened it may no longer have.
    """

    def __init__(self, s: Speech, record: GenerationRecord, number: int | None = None) -> None:
        suffix = "" if number is None else f":{number}"
        labels = messages.edit_labels(
            s, steps=(MIN_STEPS, MAX_STEPS), guidance=(MIN_GUIDANCE, MAX_GUIDANCE)
        )
        super().__init__(
            title=messages.edit_title(s, number),
            timeout=15 * 60,
            custom_id=f"{EDIT_FORM_PREFIX}{record.id}{suffix}",
        )
        params = record.params if number is None else remix.picked(record.params, number)
        self.add_item(
            discord.ui.TextInput(
                label=labels["prompt"],
                custom_id="prompt",
                style=discord.TextStyle.paragraph,
                default=params.prompt,
                max_length=PROMPT_MAX_LENGTH,
            )
        )
        self.add_item(
            discord.ui.TextInput(
                label=messages.edit_seed_label(s, number),
                custom_id="seed",
                default=str(params.seed),
                required=False,
                max_length=len(str(MAX_SEED)),
            )
        )
        self.add_item(
            discord.ui.TextInput(
                label=labels["steps"],
                custom_id="steps",
                default=str(params.steps),
                max_length=len(str(MAX_STEPS)),
            )
        )
        self.add_item(
            discord.ui.TextInput(
                label=labels["guidance"],
                custom_id="guidance",
                default=messages.exact_number(params.guidance),
                max_length=GUIDANCE_MAX_CHARS,
            )
        )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """Nothing: the listener answers every submission, whichever process opened it."""


def edit_request(
    s: Speech, record: GenerationRecord, values: Mapping[str, str], number: int | None = None
) -> GenerationRequest:
    """The dialog's answers applied to the stored settings (of image ``number`` alone, for
    a picked image); a ValueError says what to fix, in the member's language ``s``."""
    seed_text = values.get("seed", "").strip()
    params = record.params if number is None else remix.picked(record.params, number)
    return remix.edited(
        params,
        prompt=values.get("prompt", params.prompt).strip(),
        seed=_number(s, seed_text, "seed", int) if seed_text else None,
        steps=_number(s, values.get("steps", ""), "steps", int),
        guidance=_number(s, values.get("guidance", ""), "guidance", float),
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


def _number(s: Speech, text: str, box: str, kind: type[int] | type[float]) -> Any:
    """The number in the dialog's text box ``box`` (a decimal comma is read as a dot;
    full-width ``３．５`` as ``3.5``: NFKC first, as a Japanese keyboard types it)."""
    folded = unicodedata.normalize("NFKC", text).strip().replace(",", ".")
    try:
        return kind(folded)
    except ValueError:
        raise ValueError(messages.edit_not_a_number(s, box, text.strip())) from None


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
            s = to_member(interaction)
            form = EDIT_FORM.fullmatch(custom_id)
            generation_id = parse_record_id(form["id"]) if form else None
            if form is None or generation_id is None:
                log_refused_press(custom_id, interaction)
                await send_ephemeral(interaction, messages.button_not_valid(s))
                return
            number = int(form["number"]) if form["number"] else None
            record = await in_time(interaction, self.bot.store.get_generation(generation_id))
            if record is None:  # pruned (RETENTION_DAYS) while the dialog was open
                retention = self.bot.settings.retention_days
                await send_ephemeral(interaction, messages.result_too_old(s, retention))
                return
            if not _belongs_here(record, interaction) or (number or 0) > record.params.count:
                log_refused_press(custom_id, interaction)
                await send_ephemeral(interaction, messages.button_not_valid(s))
                return
            values = submitted_values(data.get("components") or [])
            try:
                request = edit_request(s, record, values, number)
            except ValueError as error:
                await send_ephemeral(interaction, str(error))
                return
            source_url = interaction.message.jump_url if interaction.message else None
            await self.bot.flow.start(
                interaction,
                request,
                parent_id=record.id,
                source_url=source_url,
                private=_private(record),
            )

    @commands.Cog.listener("on_interaction")
    async def on_stray_press(self, interaction: discord.Interaction[ImagineBot]) -> None:
        """Refuse a ``gen:`` press no button will answer (a forged or garbled custom id)."""
        await refuse_stray_press(interaction, PREFIX, RESULT_BUTTON)

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(ResultButton)
        self.bot.flow.use_views(
            result=lambda job, numbers, s: result_view(job.generation_id, numbers, s)
        )

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(ResultButton)


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(Results(bot))
