"""The whole product on one machine: Discord emulator, image-API emulator, the real bot.

Tests (and the offline demo) start a :class:`Harness`, then play members through
``harness.discord`` and read what they would see. The bot runs in-process on the
same event loop, configured only through the settings an owner would write in
``.env``, so these tests exercise exactly what ships.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.app import ImagineBot
from bot.config import Settings, settings_from_mapping
from bot.discord_endpoint import DISCORD_DEFAULT_API_BASE, use_discord_api_base
from bot.store.base import MemberContext
from tests.emulators.discord import Channel, DiscordEmulator, Guild, Member, Permission, Role
from tests.emulators.siraya import SirayaEmulator

log = logging.getLogger(__name__)

READY_TIMEOUT = 15.0


@dataclass
class Harness:
    """A running world: one server with channels, roles and members, and the bot in it."""

    discord: DiscordEmulator
    api: SirayaEmulator
    guild: Guild
    general: Channel
    lounge: Channel  # marked NSFW
    mods: Role
    moderator: Member
    settings: Settings
    bot: ImagineBot | None = None
    progress_after: float = 0.0
    """When a job that started at once first shows "Generating…": at once in tests, which
    wait for that line as the sign that a job runs (the bot's default waits 3 s first)."""
    _task: asyncio.Task[None] | None = None
    _names: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def running_bot(self) -> ImagineBot:
        assert self.bot is not None, "the bot is not running"
        return self.bot

    def member(self, prefix: str = "member", *, roles: tuple[Role, ...] = ()) -> Member:
        """A new member with a fresh quota, so tests sharing a bot don't meet each other."""
        return self.guild.add_member(f"{prefix}{next(self._names)}", roles=list(roles))

    async def used_today(self, member: Member) -> int:
        """Images charged to ``member`` today, in flight included: what ``/usage`` shows."""
        bot = self.running_bot
        summary = await bot.store.usage(
            MemberContext(
                guild_id=member.guild.id,
                channel_id=self.general.id,
                user_id=member.id,
                role_ids=tuple(role.id for role in member.roles),
            ),
            bot_default_limit=bot.settings.default_daily_limit,
        )
        return summary.used

    async def start_bot(self) -> ImagineBot:
        """Start the real bot and wait until it is connected and its commands are synced."""
        bot = ImagineBot(self.settings, guild_ready_timeout=0.05)
        self.bot = bot
        self._task = asyncio.create_task(bot.start(self.settings.discord_token.reveal()))
        ready = asyncio.create_task(bot.wait_until_ready())
        done, _ = await asyncio.wait(
            {ready, self._task}, timeout=READY_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
        )
        if ready not in done:
            ready.cancel()
            if self._task in done:
                self._task.result()  # re-raise why the bot could not start
            raise TimeoutError("the bot did not become ready")
        bot.flow.progress_after = self.progress_after
        scope = self.guild if self.settings.command_guild_ids else None  # None: global
        await self.discord.wait_until_commands_synced(scope, timeout=READY_TIMEOUT)
        return bot

    async def stop_bot(self) -> None:
        if self.bot is not None:
            await self.bot.close()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        self.bot = None
        self._task = None

    async def restart_bot(self) -> ImagineBot:
        """Stop the bot process's work and start a new one on the same database."""
        await self.stop_bot()
        return await self.start_bot()

    async def close(self) -> None:
        await self.stop_bot()
        await self.api.stop()
        await self.discord.stop()
        use_discord_api_base(DISCORD_DEFAULT_API_BASE)


async def start_harness(
    data_dir: Path, env: Mapping[str, str] | None = None, *, start_bot: bool = True
) -> Harness:
    """Start both emulators and (unless told not to) the bot, configured as an owner would."""
    discord_emu = DiscordEmulator()
    guild = discord_emu.add_guild("Imagine Test Server")
    general = guild.add_channel("general")
    lounge = guild.add_channel("lounge", nsfw=True)
    mods = guild.add_role("Mods", permissions=Permission.MANAGE_GUILD | Permission.MANAGE_MESSAGES)
    moderator = guild.add_member("mod", roles=[mods])
    api = SirayaEmulator()
    api_url = await api.start()
    await discord_emu.start()
    settings = settings_from_mapping(
        {
            "DISCORD_TOKEN": discord_emu.bot_token,
            "SIRAYA_API_KEY": api.api_key,
            "SIRAYA_BASE_URL": api_url,
            "DISCORD_API_BASE_URL": discord_emu.base_url,
            "DATABASE_URL": f"sqlite:///{data_dir / 'imagine.db'}",
            "COMMAND_GUILD_IDS": str(guild.id),
            "DEFAULT_DAILY_LIMIT": "20",
            "MAX_CONCURRENT_JOBS": "4",
            "SIRAYA_MAX_ATTEMPTS": "2",
            "SIRAYA_TIMEOUT_SECONDS": "20",
            **(env or {}),
        }
    )
    harness = Harness(discord_emu, api, guild, general, lounge, mods, moderator, settings)
    if start_bot:
        try:
            await harness.start_bot()
        except BaseException:
            await harness.close()
            raise
    return harness
