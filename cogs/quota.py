"""``/quota``: moderators set and inspect daily image limits, see usage, export it."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.app_commands import Range
from discord.ext import commands

from bot.policy.quota import LimitRefused
from bot.reports import daily_chart_png, usage_csv
from bot.store.base import AuditAction, MemberContext
from cogs.common import messages
from cogs.common.budget import in_time
from cogs.common.checks import ModeratorOnly
from cogs.common.translator import locale_str
from cogs.common.voices import to_member

if TYPE_CHECKING:
    from bot.app import ImagineBot

MAX_LIMIT = 100_000
MAX_DAYS = 366
Limit = Range[int, 0, MAX_LIMIT]
Days = Range[int, 1, MAX_DAYS]
LIMIT_HELP = locale_str("Images per UTC day (0 blocks); leave empty to remove this setting")


def _member_context(interaction: discord.Interaction, member: discord.Member) -> MemberContext:
    return MemberContext(
        guild_id=interaction.guild_id or 0,
        channel_id=interaction.channel_id or 0,
        user_id=member.id,
        role_ids=tuple(role.id for role in member.roles),
    )


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Quota(
    ModeratorOnly,
    commands.GroupCog,
    group_name="quota",
    group_description=locale_str("Set and inspect daily image limits (moderators)"),
):
    """Every subcommand answers privately, so in the moderator's own language: quota talk
    is between moderators."""

    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot
        super().__init__()

    async def _limit_set(
        self,
        interaction: discord.Interaction,
        which: AuditAction,
        change: Awaitable[int | None],
        new: int | None,
        *,
        target: str = "",
    ) -> None:
        """Make one limit change in time and say what it was; a limit the core refuses
        (the options keep moderators inside it) is said too, privately."""
        s = to_member(interaction)
        try:
            old = await in_time(interaction, change)
        except LimitRefused as error:
            await self._reply(interaction, messages.limit_refused(s, error))
            return
        await self._reply(interaction, messages.limit_changed(s, which, old, new, target=target))

    @app_commands.command(
        name="set-user", description=locale_str("Set one member's daily image limit")
    )
    @app_commands.describe(member=locale_str("The member"), limit=LIMIT_HELP)
    async def set_user(
        self, interaction: discord.Interaction, member: discord.Member, limit: Limit | None = None
    ) -> None:
        await self._limit_set(
            interaction,
            AuditAction.MEMBER_LIMIT,
            self.bot.store.set_member_limit(
                member.guild.id, member.id, limit, actor_id=interaction.user.id
            ),
            limit,
            target=member.mention,
        )

    @app_commands.command(
        name="set-role", description=locale_str("Set the daily image limit for a role")
    )
    @app_commands.describe(
        role=locale_str("The role (a member gets the highest of their roles)"), limit=LIMIT_HELP
    )
    async def set_role(
        self, interaction: discord.Interaction, role: discord.Role, limit: Limit | None = None
    ) -> None:
        await self._limit_set(
            interaction,
            AuditAction.ROLE_LIMIT,
            self.bot.store.set_role_limit(
                role.guild.id, role.id, limit, actor_id=interaction.user.id
            ),
            limit,
            target=role.mention,
        )

    @app_commands.command(
        name="set-default", description=locale_str("Set the daily limit for members without one")
    )
    @app_commands.describe(limit=LIMIT_HELP)
    async def set_default(
        self, interaction: discord.Interaction, limit: Limit | None = None
    ) -> None:
        await self._limit_set(
            interaction,
            AuditAction.DEFAULT_LIMIT,
            self.bot.store.set_default_limit(
                interaction.guild_id or 0, limit, actor_id=interaction.user.id
            ),
            limit,
        )

    @app_commands.command(
        name="set-server", description=locale_str("Set a daily image budget for the whole server")
    )
    @app_commands.describe(
        limit=locale_str("Images per UTC day for all members together; empty removes it")
    )
    async def set_server(
        self, interaction: discord.Interaction, limit: Limit | None = None
    ) -> None:
        await self._limit_set(
            interaction,
            AuditAction.SERVER_BUDGET,
            self.bot.store.set_server_budget(
                interaction.guild_id or 0, limit, actor_id=interaction.user.id
            ),
            limit,
        )

    @app_commands.command(name="reset", description=locale_str("Clear a member's usage for today"))
    @app_commands.describe(member=locale_str("The member whose images today should not count"))
    async def reset(self, interaction: discord.Interaction, member: discord.Member) -> None:
        cleared = await in_time(
            interaction,
            self.bot.store.reset_member_usage(
                member.guild.id, member.id, actor_id=interaction.user.id
            ),
        )
        await self._reply(
            interaction, messages.usage_cleared(to_member(interaction), cleared, member.mention)
        )

    @app_commands.command(
        name="view", description=locale_str("Show the server's quota policy, or one member's")
    )
    @app_commands.describe(
        member=locale_str("Show this member's effective limit and where it comes from")
    )
    async def view(
        self, interaction: discord.Interaction, member: discord.Member | None = None
    ) -> None:
        store, s = self.bot.store, to_member(interaction)
        default = self.bot.settings.default_daily_limit
        if member is not None:
            summary = await in_time(
                interaction,
                store.usage(_member_context(interaction, member), bot_default_limit=default),
            )
            embed = messages.member_quota_embed(s, member.id, summary)
        else:
            guild_id = interaction.guild_id or 0
            policy = await in_time(interaction, store.guild_policy(guild_id))
            audit = await in_time(interaction, store.audit_log(guild_id, limit=10))
            embed = messages.policy_embed(s, policy, audit, bot_default=default)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @app_commands.command(
        name="stats", description=locale_str("Images per day and the top members, with a chart")
    )
    @app_commands.describe(days=locale_str("How many days back (default {days})", days=7))
    async def stats(self, interaction: discord.Interaction, days: Days = 7) -> None:
        # Two queries over up to a year and a chart: acknowledge first, like export.
        await interaction.response.defer(ephemeral=True, thinking=True)
        guild_id = interaction.guild_id or 0
        totals = await self.bot.store.daily_totals(guild_id, days=days)
        top = await self.bot.store.top_members(guild_id, days=days, limit=10)
        show_spend = self.bot.settings.price_per_megapixel is not None
        s = to_member(interaction)
        chart = await asyncio.to_thread(
            partial(daily_chart_png, totals, show_spend=show_spend, text=messages.chart_text(s))
        )
        name = "usage.png"
        await interaction.followup.send(
            embed=messages.stats_embed(
                s, totals, top, days=days, chart_name=name, show_spend=show_spend
            ),
            file=discord.File(io.BytesIO(chart), filename=name),
            ephemeral=True,
        )

    @app_commands.command(
        name="export", description=locale_str("Download the usage log as a CSV file")
    )
    @app_commands.describe(days=locale_str("How many days back (default {days})", days=30))
    async def export(self, interaction: discord.Interaction, days: Days = 30) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        records = await self.bot.store.export_usage(interaction.guild_id or 0, days=days)
        with_cost = self.bot.settings.price_per_megapixel is not None
        data = await asyncio.to_thread(partial(usage_csv, records, with_cost=with_cost))
        stamp = datetime.now(UTC).strftime("%Y%m%d")
        s = to_member(interaction)
        if len(data) > interaction.filesize_limit:
            await interaction.followup.send(messages.export_too_large(s, days), ephemeral=True)
            return
        await interaction.followup.send(
            messages.export_summary(
                s, len(records), days=days, retention_days=self.bot.settings.retention_days
            ),
            file=discord.File(io.BytesIO(data), filename=f"imagine-usage-{stamp}.csv"),
            ephemeral=True,
        )


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(Quota(bot))
