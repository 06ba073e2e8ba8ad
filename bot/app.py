"""The bot process: one object that owns the shared resources and wires the core to the cogs.

Following RoboDanny's shape: resources (database, HTTP session, API client) are
created in ``setup_hook``, once the event loop runs, and released in ``close``;
extensions are listed once and loaded there.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from bot import metrics, package_version
from bot.config import Settings
from bot.discord_endpoint import use_discord_api_base, use_gateway
from bot.eventloop import running_loop_name
from bot.health import gateway_connected, probe_store
from bot.jobs.scheduler import FairScheduler
from bot.jobs.service import GenerationService
from bot.looplag import LoopLagMonitor
from bot.ops import Operations
from bot.retention import RetentionKeeper
from bot.siraya import ImageOrigins, RetryPolicy, SirayaClient, create_session
from bot.store import open_store
from bot.store.base import JobLimits, Store
from cogs.common.flow import GenerationFlow
from cogs.common.modlog import ModerationLog
from cogs.common.places import PersonalGate, open_to_personal_places
from cogs.common.translator import CatalogTranslator

log = logging.getLogger(__name__)

EXTENSIONS: tuple[str, ...] = (
    "cogs.errors",
    "cogs.imagine",
    "cogs.usage",
    "cogs.quota",
    "cogs.settings",
    "cogs.results",
    "cogs.queue",
    "cogs.preferences",
    "cogs.history",
    "cogs.imagine_this",
)


MEMBER_COMMANDS = frozenset({"imagine", "usage", "queue", "history", "preferences", "Imagine this"})
"""Commands members use for themselves: with ``PERSONAL_USE`` on they are offered outside
servers too (a member command added later joins this set); every other command is a
moderator's and stays a server install in server channels."""


def personal_use(commands: list[Any]) -> bool:
    """Whether any command can be used outside a server (a DM, or installed to a user)."""
    for command in commands:
        installs = getattr(command, "allowed_installs", None)
        contexts = getattr(command, "allowed_contexts", None)
        if (installs is not None and installs.user) or (
            contexts is not None and (contexts.dm_channel or contexts.private_channel)
        ):
            return True
    return False


def start_line(
    settings: Settings,
    metrics_port: int | None,
    personal: bool = False,
    event_loop: str = "asyncio",
) -> str:
    """The one line logged at start: what this process is, never a secret or a password."""
    kind = "postgresql" if settings.database_url.startswith("postgres") else "sqlite"
    if settings.shard_count is None:
        shards = "shards automatic"
    else:
        mine = "all" if settings.shard_ids is None else ",".join(map(str, settings.shard_ids))
        shards = f"shards {mine} of {settings.shard_count}"
    commands_to = (
        f"commands in {len(settings.command_guild_ids)} server(s)"
        if settings.command_guild_ids
        else "commands global"
    )
    served = (
        f"metrics on http://{settings.metrics_host}:{metrics_port}/metrics"
        if metrics_port is not None
        else "metrics off"
    )
    return (
        f"imagine-bot {package_version()} starting: database {kind}, {shards}, {commands_to}, "
        f"personal use {'on' if personal else 'off'}, "
        f"up to {settings.max_concurrent_jobs} generation(s) at once, {served}, "
        f"event loop {event_loop}"
    )


def _shard_options(settings: Settings) -> dict[str, Any]:
    """discord.py picks the shard count itself unless the owner split shards across processes."""
    options: dict[str, Any] = {}
    if settings.shard_count is not None:
        options["shard_count"] = settings.shard_count
    if settings.shard_ids is not None:
        options["shard_ids"] = list(settings.shard_ids)
    return options


class ImagineBot(commands.AutoShardedBot):
    """imagine-bot itself. Attributes set in ``setup_hook`` exist once the bot has started."""

    store: Store
    api_session: aiohttp.ClientSession
    siraya: SirayaClient
    generations: GenerationService
    moderation_log: ModerationLog
    retention: RetentionKeeper

    def __init__(
        self, settings: Settings, *, store: Store | None = None, **client_options: Any
    ) -> None:
        """``store``: already open (``python -m bot`` opens it before logging in); the bot
        then owns it and closes it. Without one, ``setup_hook`` opens DATABASE_URL.
        ``client_options`` pass through to discord.py (tests shorten ``guild_ready_timeout``).
        """
        use_discord_api_base(settings.discord_api_base_url)
        # The bot has no voice: discord.py's "PyNaCl/davey is not installed, voice will NOT
        # be supported" warnings on every start would only alarm the owner.
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            # Servers and their channels only: interactions come whatever the intents, and
            # nothing here reads gateway messages (results, recovery and Delete go through
            # REST or the interaction's own payload). The default intents would have every
            # message, edit, reaction and typing in every server sent and parsed for
            # nothing, the echo of each result edit included (docs/benchmarks.md).
            intents=discord.Intents(guilds=True),
            allowed_mentions=discord.AllowedMentions.none(),
            **_shard_options(settings),
            **client_options,
        )
        self.settings = settings
        self._given_store = store
        self._settled_at_start = 0
        self._resources_open = False
        self._shutdown: asyncio.Future[None] | None = None
        self.loop_lag = LoopLagMonitor()
        self.operations = Operations.create(
            health_file=settings.health_file,
            metrics_port=settings.metrics_port,
            metrics_host=settings.metrics_host,
            connected=lambda: gateway_connected(self),
            store_probe=lambda: probe_store(self.store),
            api_retries=lambda: self.siraya.retries_total,
        )

    async def setup_hook(self) -> None:
        settings = self.settings
        self.store = self._given_store or await open_store(
            settings.database_url, price=settings.price_per_megapixel
        )
        self._resources_open = True
        # Each running job holds one connection for the request, then up to four for
        # downloading its images.
        # One download policy for both: the client checks each URL, the session's resolver
        # each address a name resolves to.
        origins = ImageOrigins(settings.siraya_base_url, settings.siraya_image_hosts)
        self.api_session = create_session(
            max_connections=settings.max_concurrent_jobs * 5, origins=origins
        )
        self.siraya = SirayaClient(
            self.api_session,
            api_key=settings.siraya_api_key.reveal(),
            base_url=settings.siraya_base_url,
            model=settings.siraya_model,
            origins=origins,
            retry=RetryPolicy(
                max_attempts=settings.siraya_max_attempts,
                deadline=settings.siraya_timeout_seconds,
            ),
        )
        self.generations = GenerationService(
            self.siraya,
            self.store,
            FairScheduler(settings.max_concurrent_jobs),
            bot_default_limit=settings.default_daily_limit,
            nsfw_safety_default=settings.nsfw_safety_checker,
            # With personal use off nothing outside servers may be charged, whatever left.
            personal_daily_limit=(
                settings.personal_daily_limit if settings.personal_use.enabled else 0
            ),
            job_limits=JobLimits(per_member=settings.max_jobs_per_user, queue=settings.queue_limit),
        )
        self.moderation_log = ModerationLog(self, self.store)
        # The results and queue cogs attach their buttons when they load (use_views).
        self.flow = GenerationFlow(self.generations, observer=self.moderation_log)
        self.retention = RetentionKeeper(
            self.store,
            retention_days=settings.retention_days,
            audit_retention_days=settings.audit_retention_days,
        )
        await self.operations.start()
        self._settled_at_start = metrics.REGISTRY.settled_total
        self.loop_lag.start()
        # Descriptions and choice names in every language the catalogs speak, at sync.
        await self.tree.set_translator(CatalogTranslator())
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        self._open_member_commands()
        personal = personal_use(list(self.tree.get_commands()))
        log.info(start_line(settings, self.operations.port, personal, running_loop_name()))
        if self.settings.shard_ids is None or 0 in self.settings.shard_ids:
            await self.sync_commands()  # once per deployment: the process running shard 0
        resumed = await self.flow.resume_all(self)
        if resumed:
            log.info("resumed %d generation(s) left unfinished by the previous run", resumed)
        self.flow.start_sweeping(self)
        self.retention.start()

    async def launch_shards(self) -> None:
        if self.shard_count is not None:  # otherwise discord.py asks /gateway/bot itself
            _, url, _ = await self.http.get_bot_gateway()
            use_gateway(url)
        await super().launch_shards()

    def _open_member_commands(self) -> None:
        """Gate the member commands, and with ``PERSONAL_USE`` on offer them to user
        installs and in personal places (moderator commands stay in servers)."""
        self.personal_gate = PersonalGate(self, self.settings.personal_use)
        self.flow.personal_gate = self.personal_gate  # buttons and dialogs: no command check
        for command in self.tree.get_commands():  # every type: "Imagine this" is a menu
            if command.name not in MEMBER_COMMANDS:
                continue
            gated: list[app_commands.Command[Any, ..., Any] | app_commands.ContextMenu]
            if isinstance(command, app_commands.Group):  # /preferences: gate each subcommand
                gated = [c for c in command.walk_commands() if isinstance(c, app_commands.Command)]
            else:
                gated = [command]
            for each in gated:
                each.add_check(self.personal_gate.check)
            if self.settings.personal_use.enabled:
                open_to_personal_places(command)

    async def sync_commands(self) -> None:
        """Guild sync is instant (for testing servers); global sync can take an hour to show.

        With ``PERSONAL_USE`` on, the member commands are always global (only global
        commands can be user-installed) and ``COMMAND_GUILD_IDS`` carries the moderator
        commands alone, so no member ever sees a command twice.
        """
        if self.settings.command_guild_ids and self.settings.personal_use.enabled:
            moderator = [
                command
                for command in self.tree.get_commands()
                if command.name not in MEMBER_COMMANDS
            ]
            for command in moderator:
                kind = getattr(command, "type", discord.AppCommandType.chat_input)
                self.tree.remove_command(command.name, type=kind)
            synced = await self.tree.sync()
            log.debug("synced %d global member command(s)", len(synced))
            for guild_id in self.settings.command_guild_ids:
                guild = discord.Object(id=guild_id)
                for command in moderator:
                    self.tree.add_command(command, guild=guild, override=True)
                synced = await self.tree.sync(guild=guild)
                log.debug("synced %d moderator command(s) to guild %s", len(synced), guild_id)
        elif self.settings.command_guild_ids:
            for guild_id in self.settings.command_guild_ids:
                guild = discord.Object(id=guild_id)
                self.tree.copy_global_to(guild=guild)
                synced = await self.tree.sync(guild=guild)
                log.debug("synced %d command(s) to guild %s", len(synced), guild_id)
            if self.application_id is not None:
                # Global commands an earlier run left (personal use, or no COMMAND_GUILD_IDS)
                # would show every command twice in these servers.
                await self.http.bulk_upsert_global_commands(self.application_id, [])
        else:
            synced = await self.tree.sync()
            log.debug("synced %d global command(s)", len(synced))

    async def on_ready(self) -> None:
        log.info("connected as %s to %d server(s)", self.user, len(self.guilds))

    async def close(self) -> None:
        """Graceful stop: finish started jobs within the grace period, keep the rest queued.

        Safe to call from several places at once (a signal, discord.py, ``async with``):
        every caller waits for the one shutdown, so nobody returns while the database is
        still open.
        """
        if self._shutdown is None:
            self._shutdown = asyncio.ensure_future(self._close())
        await asyncio.shield(self._shutdown)

    async def _close(self) -> None:
        if self._resources_open:
            await self.retention.stop()
            left = await self.flow.shutdown(self.settings.shutdown_grace_seconds)
            await self.moderation_log.close()
            finished = metrics.REGISTRY.settled_total - self._settled_at_start
            log.info(
                "stopped: %d generation(s) finished while running, %d stay queued for the "
                "next start",
                finished,
                left,
            )
        elif self._given_store is not None:  # never got as far as setup_hook (login failed)
            await self._given_store.close()
        await super().close()
        if self._resources_open:
            await self.operations.stop()
            await self.loop_lag.stop()
            await self.api_session.close()
            await self.store.close()
            self._resources_open = False
