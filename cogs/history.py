"""``/history``: a member's own recent generations here, privately, paged.

In a server the bot is in: that server's generations. In a personal place (the bot's
DM, group DMs, servers without the bot; offered there with ``PERSONAL_USE`` on): the
member's personal generations, all stored under server 0, and never anyone else's:
there are no moderators outside the bot's servers, so ``member:`` is refused there.

The page buttons are ``DynamicItem``s whose custom id names the member shown, the
member viewing and the page (``hist:<member>:<viewer>:<page>``), so they work after a
restart. Nothing in a custom id is trusted: only the viewer named may page, and a
moderator's look at someone else's history is checked for Manage Server again at every
press, as when the command ran.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.policy.places import valid_record_id
from cogs.common import messages
from cogs.common.budget import in_time
from cogs.common.checks import log_refused_press, refuse_stray_press, require_manage_guild
from cogs.common.flow import apologising, send_ephemeral
from cogs.common.places import is_personal, ledger_guild_id
from cogs.common.translator import locale_str
from cogs.common.voices import to_member

if TYPE_CHECKING:
    from bot.app import ImagineBot

PREFIX = "hist:"
PAGE_BUTTON = re.compile(r"hist:(?P<user>[0-9]{1,19}):(?P<viewer>[0-9]{1,19}):(?P<page>[0-9]{1,6})")
MAX_PAGE = 999_999


async def history_page(
    interaction: discord.Interaction[ImagineBot], user_id: int, page: int
) -> tuple[discord.Embed, discord.ui.View]:
    """The embed and buttons for ``page`` (1-based, clamped to the pages there are), in
    the language of whoever is looking (a page turn may come from another client)."""
    s = to_member(interaction)
    size = messages.HISTORY_PAGE_SIZE
    store = interaction.client.store
    guild_id = ledger_guild_id(interaction)
    here = (interaction.channel_id or 0, interaction.guild_id) if guild_id == 0 else None
    page = max(1, page)
    records, total = await in_time(
        interaction, store.history(guild_id, user_id, limit=size, offset=(page - 1) * size)
    )
    pages = max(1, -(-total // size))
    if page > pages:  # the history shrank, or a page number was typed too high
        page = pages
        records, total = await in_time(
            interaction, store.history(guild_id, user_id, limit=size, offset=(page - 1) * size)
        )
    embed = messages.history_embed(
        s,
        records,
        user_id=user_id,
        own=user_id == interaction.user.id,
        page=page,
        pages=pages,
        total=total,
        here=here,
    )
    view = discord.ui.View(timeout=None)
    viewer = interaction.user.id
    newer, older = messages.history_newer(s), messages.history_older(s)
    view.add_item(PageButton(user_id, viewer, page - 1, newer, disabled=page <= 1))
    view.add_item(PageButton(user_id, viewer, page + 1, older, disabled=page >= pages))
    return embed, view


class PageButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=PAGE_BUTTON,
):
    """One page turn; its custom id is all the state there is."""

    def __init__(
        self,
        user_id: int,
        viewer_id: int,
        page: int,
        label: str = "Page",
        *,
        disabled: bool = False,
    ) -> None:
        super().__init__(
            discord.ui.Button(
                label=label,
                style=discord.ButtonStyle.secondary,
                custom_id=f"hist:{user_id}:{viewer_id}:{max(0, min(page, MAX_PAGE))}",
                disabled=disabled,
            )
        )
        self.user_id = user_id
        self.viewer_id = viewer_id
        self.page = page

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> PageButton:
        return cls(int(match["user"]), int(match["viewer"]), int(match["page"]))

    async def callback(self, interaction: discord.Interaction[ImagineBot]) -> None:  # type: ignore[override]
        async with apologising(interaction, "a history page button"):
            if not (valid_record_id(self.user_id) and valid_record_id(self.viewer_id)):
                log_refused_press(self.custom_id, interaction)
                await send_ephemeral(interaction, messages.button_not_valid(to_member(interaction)))
                return
            if interaction.user.id != self.viewer_id:
                await send_ephemeral(
                    interaction, messages.history_not_yours(to_member(interaction))
                )
                return
            if self.user_id != interaction.user.id and (
                is_personal(interaction) or not interaction.permissions.manage_guild
            ):  # rights in a server without the bot make no moderator
                log_refused_press(self.custom_id, interaction)  # no longer a moderator?
                await send_ephemeral(
                    interaction, messages.history_not_yours(to_member(interaction))
                )
                return
            embed, view = await history_page(interaction, self.user_id, self.page)
            await interaction.response.edit_message(embed=embed, view=view)


class History(commands.Cog):
    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot

    @app_commands.command(name="history", description=locale_str("Your recent images here"))
    @app_commands.guild_only()
    @app_commands.describe(
        page=locale_str("Which page (1 is the newest)"),
        member=locale_str("Moderators (Manage Server): see another member's history"),
    )
    async def history(
        self,
        interaction: discord.Interaction[ImagineBot],
        page: app_commands.Range[int, 1, MAX_PAGE] = 1,
        member: discord.Member | discord.User | None = None,
    ) -> None:
        user_id = interaction.user.id if member is None else member.id
        if user_id != interaction.user.id and is_personal(interaction):
            await interaction.response.send_message(
                messages.history_of_others_in_servers_only(to_member(interaction)), ephemeral=True
            )
            return
        if user_id != interaction.user.id:
            require_manage_guild(interaction)  # checked on every call, whatever admins re-mapped
        embed, view = await history_page(interaction, user_id, page)
        await interaction.response.send_message(embed=embed, view=view, ephemeral=True)

    @commands.Cog.listener("on_interaction")
    async def on_stray_press(self, interaction: discord.Interaction[ImagineBot]) -> None:
        """Refuse a ``hist:`` press no page button will answer (forged or garbled)."""
        await refuse_stray_press(interaction, PREFIX, PAGE_BUTTON)

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(PageButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(PageButton)


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(History(bot))
