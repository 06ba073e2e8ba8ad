"""The "Imagine this" message command: right-click a message → Apps → Imagine this.

On any message it opens a dialog with the message's text as the prompt (editable, with
a size and a seed); on one of the bot's own results it opens that generation's Edit
dialog instead (on a picked image, that image's, keeping its seed). The dialog is the
first response (Discord allows a modal only then), so the one read before it (the
result's record) goes through the acknowledgement budget. Submissions are answered by a
listener from the interaction alone, so a dialog left open while the bot restarted still
works; the member's preferences and the server's rules apply as in ``/imagine``.

With ``PERSONAL_USE`` on, the menu is offered in personal places like the member
commands (bot/app.py ``MEMBER_COMMANDS``): the personal gate runs on the menu and again on
the dialog's submission, the personal set of preferences applies, and only the member's
own personal results open their Edit dialog.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

import discord
from discord import app_commands
from discord.ext import commands

from bot.i18n import Speech
from bot.policy.places import belongs_here, valid_record_id
from bot.siraya import MAX_SEED, PROMPT_MAX_LENGTH, SIZE_PRESETS
from bot.store.base import GenerationRecord, Preferences
from cogs.common import messages
from cogs.common.budget import in_time
from cogs.common.flow import apologising, send_ephemeral
from cogs.common.places import NotAllowedHere, ledger_guild_id
from cogs.common.voices import to_member
from cogs.common.workspace import request_for
from cogs.results import EditModal, submitted_values

if TYPE_CHECKING:
    from bot.app import ImagineBot

log = logging.getLogger(__name__)

MENU_NAME = "Imagine this"
FORM_ID = "imagine:this"
_SIDES = re.compile(r"\s*([0-9]{1,5})\s*[x×*, ]\s*([0-9]{1,5})\s*", re.IGNORECASE)
"""Width and height, read after :func:`as_typed` (so ``１０２４ｘ７６８`` is ``1024x768``;
NFKC leaves ``×`` as it is, which the pattern takes too)."""


def as_typed(text: str) -> str:
    """``text`` as the ASCII a member meant: NFKC folds full-width digits, letters, ``，``,
    ``．`` and the ideographic space (a Japanese or Chinese keyboard's) to ``0-9``, ``x``,
    ``,``, ``.`` and a space. What the member typed is still what refusals quote."""
    return unicodedata.normalize("NFKC", text).strip()


class ImagineThisModal(discord.ui.Modal):
    """The dialog for any message, in the member's language; only draws the form (see
    ``on_submitted``, which reads the inputs by custom id, whatever their labels said)."""

    def __init__(self, s: Speech, prompt: str) -> None:
        super().__init__(title=messages.imagine_this_title(s), timeout=15 * 60, custom_id=FORM_ID)
        self.add_item(
            discord.ui.TextInput(
                label=messages.imagine_this_prompt_label(s),
                custom_id="prompt",
                style=discord.TextStyle.paragraph,
                default=prompt[:PROMPT_MAX_LENGTH],
                max_length=PROMPT_MAX_LENGTH,
            )
        )
        self.add_item(
            discord.ui.TextInput(
                label=messages.imagine_this_size_label(s),
                custom_id="size",
                placeholder=messages.imagine_this_size_placeholder(s),
                required=False,
                max_length=32,
            )
        )
        self.add_item(
            discord.ui.TextInput(
                label=messages.imagine_this_seed_label(s),
                custom_id="seed",
                required=False,
                max_length=len(str(MAX_SEED)),
            )
        )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """Nothing: the listener answers every submission, whichever process opened it."""


class UnreadableSize(ValueError):
    """A size the dialog cannot read; the listener words it for the member."""

    def __init__(self, text: str) -> None:
        super().__init__(f"unreadable size {text!r}")
        self.text = text


class UnreadableSeed(ValueError):
    """A seed that is not a whole number from 0 to ``MAX_SEED``."""

    def __init__(self, text: str) -> None:
        super().__init__(f"unreadable seed {text!r}")
        self.text = text


def typed_size(text: str) -> Preferences:
    """The dialog's size as options; :class:`UnreadableSize` otherwise."""
    text = text.strip()
    if not text:
        return Preferences()
    folded = as_typed(text)
    if folded.lower() in SIZE_PRESETS:
        return Preferences(size=folded.lower())
    sides = _SIDES.fullmatch(folded)
    if sides is None:
        raise UnreadableSize(text)
    return Preferences(width=int(sides[1]), height=int(sides[2]))


def typed_seed(text: str) -> int | None:
    """The dialog's seed (None: a random one); :class:`UnreadableSeed` otherwise."""
    text = text.strip()
    if not text:
        return None
    folded = as_typed(text)
    if not (folded.isascii() and folded.isdigit()) or int(folded) > MAX_SEED:
        raise UnreadableSeed(text)
    return int(folded)


def message_prompt(message: discord.Message) -> str:
    """The text to start from: the message's own, else its first embed's."""
    text = message.content.strip()
    if not text:
        for embed in message.embeds:
            text = (embed.description or embed.title or "").strip()
            if text:
                break
    return text


class ImagineThis(commands.Cog):
    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot
        self.menu = app_commands.guild_only(
            app_commands.ContextMenu(name=MENU_NAME, callback=self.imagine_this)
        )

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    async def _own_result(
        self, interaction: discord.Interaction[ImagineBot], message: discord.Message
    ) -> tuple[GenerationRecord, int | None] | None:
        """The generation ``message`` shows (and which image, for a picked one), if it is
        one of this bot's results or picked images in this server."""
        me = self.bot.user
        if me is None or message.author.id != me.id:
            return None
        for embed in message.embeds:
            found = messages.result_in_footer(embed.footer.text)
            if found is None or not valid_record_id(found[0]):
                continue
            generation_id, number = found
            record = await in_time(interaction, self.bot.store.get_generation(generation_id))
            if record is None or not belongs_here(
                record_guild_id=record.guild_id,
                record_user_id=record.user_id,
                guild_id=ledger_guild_id(interaction),
                user_id=interaction.user.id,
            ):  # in a personal place, only the member's own results are theirs to edit
                return None
            if number is not None:  # a picked image: posted as a press's answer, not recorded
                return (record, number) if 1 <= number <= record.params.count else None
            if message.id in (record.message_id, record.posted_message_id):
                return record, None
        return None

    async def imagine_this(
        self, interaction: discord.Interaction[ImagineBot], message: discord.Message
    ) -> None:
        found = await self._own_result(interaction, message)
        if found is not None:
            record, number = found
            await interaction.response.send_modal(EditModal(to_member(interaction), record, number))
            return
        prompt = message_prompt(message)
        s = to_member(interaction)
        if not prompt:
            await send_ephemeral(interaction, messages.nothing_to_imagine(s))
            return
        await interaction.response.send_modal(ImagineThisModal(s, prompt))

    @commands.Cog.listener("on_interaction")
    async def on_submitted(self, interaction: discord.Interaction[ImagineBot]) -> None:
        """Generate from the dialog, or say privately what to fix in it."""
        if interaction.type is not discord.InteractionType.modal_submit:
            return
        data = cast("Mapping[str, Any]", interaction.data or {})
        if data.get("custom_id") != FORM_ID:
            return
        async with apologising(interaction, "the Imagine this dialog"):
            try:  # the menu's check passed when the dialog opened; the owner may since have
                await self.bot.personal_gate.check(interaction)  # changed PERSONAL_USE
            except NotAllowedHere as refusal:
                await send_ephemeral(interaction, refusal.said(to_member(interaction)))
                return
            values = submitted_values(data.get("components") or [])
            s = to_member(interaction)
            try:
                size = typed_size(values.get("size", ""))
                seed = typed_seed(values.get("seed", ""))
            except UnreadableSize as error:
                await send_ephemeral(interaction, messages.bad_size(s, error.text))
                return
            except UnreadableSeed:
                await send_ephemeral(interaction, messages.bad_seed(s, MAX_SEED))
                return
            prompt = values.get("prompt", "").strip()
            request = await request_for(interaction, prompt, size, seed=seed)
            if request is not None:
                await self.bot.flow.start(interaction, request)


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(ImagineThis(bot))
