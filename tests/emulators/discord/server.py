"""The :class:`DiscordEmulator` façade: build a world, start the server, play members.

One object owns the HTTP+websocket server, the world (guilds, channels, members),
the message store, synced commands and every interaction, and offers the calls a
test needs to tell a user story::

    it = await emu.run_slash_command(alice, general, "imagine", prompt="a red fox")
    msg = await it.wait_for_original(lambda m: m.attachments)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

from aiohttp import web

from tests.emulators.discord.clock import EmulatorClock
from tests.emulators.discord.commands import CommandRegistry
from tests.emulators.discord.direct import DirectMessage, DirectMessages
from tests.emulators.discord.errors import ClientRejected
from tests.emulators.discord.gateway import GatewayConnection, GatewayHub
from tests.emulators.discord.interactions import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    MESSAGE_COMPONENT,
    MODAL_SUBMIT,
    InteractionRecord,
    InteractionRegistry,
    ModalRecord,
    new_interaction_token,
)
from tests.emulators.discord.invocations import (
    build_message_command_data,
    build_slash_data,
    button_data,
    check_can_see,
    interaction_base,
    modal_submit_data,
    select_data,
)
from tests.emulators.discord.messages import Attachment, Message, MessageStore
from tests.emulators.discord.messaging import MessageService
from tests.emulators.discord.permissions import Permission
from tests.emulators.discord.ratelimit import RateLimiter, RateLimitServed
from tests.emulators.discord.responses import InteractionResponder
from tests.emulators.discord.rest import RestApi, ServedRequest
from tests.emulators.discord.stalls import Stalls
from tests.emulators.discord.state import Channel, Guild, Member, User, World
from tests.emulators.discord.uploads import MAX_REQUEST_BYTES, RequestBody

log = logging.getLogger(__name__)
JSON = dict[str, Any]

LISTEN_BACKLOG = 1024
"""Connections waiting to be accepted (aiohttp's default is 128; see ``start``)."""


class DiscordEmulator:
    """A local Discord: REST under ``/api/v10`` and a gateway websocket, on 127.0.0.1."""

    def __init__(
        self,
        *,
        bot_name: str = "Imagine",
        shards: int = 1,
        heartbeat_interval_ms: int = 41_250,
        privileged_intents: int = 0,
        interaction_deadline: float = 3.0,
        token_lifetime: float = 15 * 60.0,
        bucket_limit: int = 50,
        bucket_window: float = 1.0,
    ) -> None:
        self.clock = EmulatorClock()
        self.world = World(self.clock, bot_name=bot_name)
        self.recommended_shards = shards
        self.interaction_deadline = interaction_deadline
        self.store = MessageStore()
        self.commands = CommandRegistry(
            self.clock, self.world.snowflakes, self.world.application_id
        )
        self.registry = InteractionRegistry()
        self.messaging = MessageService(
            self.world,
            self.store,
            self.clock,
            self.world.snowflakes,
            cdn_base=lambda: self.http_root,
        )
        self.responder = InteractionResponder(
            self.world, self.registry, self.messaging, self.clock, token_lifetime=token_lifetime
        )
        self.rate_limiter = RateLimiter(
            self.clock, bucket_limit=bucket_limit, bucket_window=bucket_window
        )
        self.stalls = Stalls()
        self.direct = DirectMessages(self.world, self.clock, self.world.snowflakes)
        self.gateway = GatewayHub(
            self.world,
            heartbeat_interval_ms=heartbeat_interval_ms,
            privileged_intents=privileged_intents,
        )
        self.world.application_flags = _application_flags(privileged_intents)
        self.world.listener = self.gateway.dispatch_guild_event
        self.messaging.listener = self.gateway.dispatch_message
        #: Every request answered, in order (tokens redacted from paths).
        self.requests: list[ServedRequest] = []
        #: "METHOD /path" of requests that matched no route.
        self.unknown_routes: list[str] = []
        #: 401, 403 and 429 answers: what Cloudflare counts towards an IP ban.
        self.invalid_request_count = 0
        #: Exceptions inside the emulator itself (answered 503): always a bug to fix.
        self.internal_errors: list[str] = []
        self._uploads: dict[int, Attachment] = {}
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    def __repr__(self) -> str:
        where = f"127.0.0.1:{self._port}" if self._port else "stopped"
        return f"<DiscordEmulator {where} guilds={len(self.world.guilds)}>"

    # -- identity ---------------------------------------------------------------------
    @property
    def bot_token(self) -> str:
        """The only token the emulator accepts (give it to ``bot.start``)."""
        return self.world.bot_token

    @property
    def application_id(self) -> int:
        return self.world.application_id

    @property
    def bot_user(self) -> User:
        return self.world.bot_user

    @property
    def guilds(self) -> list[Guild]:
        return self.world.guilds

    # -- building the world ---------------------------------------------------------
    def add_guild(
        self,
        name: str,
        *,
        upload_limit: int | None = None,
        premium_tier: int | None = None,
        locale: str = "en-US",
        everyone_permissions: int = Permission.DEFAULT_EVERYONE,
        bot_permissions: int = Permission.DEFAULT_BOT,
        guild_id: int | None = None,
    ) -> Guild:
        """A server the bot is in. ``upload_limit`` defaults to the boost tier's (10 MiB).

        ``guild_id`` pins the id, e.g. to choose the shard: ``(guild_id >> 22) % shards``.
        """
        return self.world.add_guild(
            name,
            upload_limit=upload_limit,
            premium_tier=premium_tier,
            locale=locale,
            everyone_permissions=everyone_permissions,
            bot_permissions=bot_permissions,
            guild_id=guild_id,
        )

    # -- server lifecycle -----------------------------------------------------------
    async def start(self, *, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on an ephemeral port; returns the API base for ``use_discord_api_base``."""
        app = web.Application(client_max_size=MAX_REQUEST_BYTES + 1024 * 1024)
        RestApi(self).install(app)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        # Discord's edge takes a burst of new connections; aiohttp's default listen backlog
        # (128) dropped SYNs when 250 deferrals connected at once, and each dropped one
        # came back a second later (the kernel's retry), a delay Discord would not add.
        site = web.TCPSite(self._runner, host, port, backlog=LISTEN_BACKLOG)
        await site.start()
        self._port = int(self._runner.addresses[0][1])
        self.gateway.resume_url = self.gateway_url
        return self.base_url

    async def stop(self) -> None:
        self.stalls.release()
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> DiscordEmulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def http_root(self) -> str:
        if self._port is None:
            raise RuntimeError("the emulator is not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def base_url(self) -> str:
        return f"{self.http_root}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self._port}/gateway"

    # -- rate limits ---------------------------------------------------------------------
    def inject_rate_limit(
        self,
        route_substring: str,
        retry_after: float = 0.05,
        global_: bool = False,
        count: int = 1,
        *,
        scope: str | None = None,
    ) -> None:
        """Answer the next ``count`` requests whose ``"METHOD /api/v10/path"`` contains
        ``route_substring`` with a 429 (``Retry-After``, ``X-RateLimit-Scope``, JSON
        ``retry_after``), as Discord does. Served 429s are in :attr:`rate_limits_served`."""
        self.rate_limiter.inject(
            route_substring, retry_after=retry_after, global_=global_, count=count, scope=scope
        )

    # -- stalls ---------------------------------------------------------------------------
    def stall(self, route_substring: str, *, count: int = 1, after_handling: bool = False) -> None:
        """Hold the next ``count`` requests whose ``"METHOD /api/v10/path"`` (or CDN
        ``"GET /attachments/…"``) contains ``route_substring`` open without an answer (a
        hung connection). With
        ``after_handling`` the request takes effect and only its answer never comes.
        For "an answer that says wait an absurd time", use :meth:`inject_rate_limit`
        with a huge ``retry_after``."""
        self.stalls.add(route_substring, count=count, after_handling=after_handling)

    async def wait_until_stalled(self, count: int = 1, *, timeout: float = 10.0) -> None:
        """Returns once ``count`` requests in all have been held."""
        await self.stalls.wait_for_held(count, timeout=timeout)

    def release_stalls(self) -> None:
        self.stalls.release()

    # -- direct messages --------------------------------------------------------------
    def refuse_direct_messages(self, member: Member) -> None:
        """``member`` turned off direct messages from server members."""
        self.direct.closed.add(member.id)

    def direct_messages(self, member: Member) -> list[DirectMessage]:
        """What the bot wrote to ``member`` in private, oldest first."""
        return self.direct.to(member.id)

    async def wait_for_direct_message(
        self,
        member: Member,
        predicate: Callable[[DirectMessage], bool] | None = None,
        *,
        timeout: float = 10.0,
    ) -> DirectMessage:
        def check() -> DirectMessage | None:
            return next(
                (m for m in self.direct.to(member.id) if predicate is None or predicate(m)), None
            )

        return await self.direct.changed.wait_for(
            check,
            timeout=timeout,
            describe=lambda: f"direct messages to {member.name}: {self.direct.to(member.id)}",
        )

    # -- what the bot did ------------------------------------------------------------
    @property
    def errors(self) -> list[ServedRequest]:
        """Every 4xx answered except injected 429s: each one is a request the bot got wrong."""
        return [r for r in self.requests if 400 <= r.status < 500 and r.status != 429]

    @property
    def rate_limits_served(self) -> list[RateLimitServed]:
        return self.rate_limiter.served

    @property
    def rate_limited_count(self) -> int:
        return len(self.rate_limiter.served)

    @property
    def interactions(self) -> list[InteractionRecord]:
        return self.registry.all

    @property
    def interaction_failures(self) -> list[InteractionRecord]:
        """Interactions the user saw fail: no accepted initial response within 3 s."""
        return [r for r in self.registry.all if r.failed]

    def clear_records(self) -> None:
        """Forget requests, errors and 429s served so far (between tests sharing an emulator)."""
        self.requests.clear()
        self.unknown_routes.clear()
        self.internal_errors.clear()
        self.rate_limiter.served.clear()
        self.stalls.release()
        self.stalls.held.clear()
        self.invalid_request_count = 0

    def assert_no_errors(self) -> None:
        problems = [str(e) for e in self.errors] + [
            f"unknown route {r}" for r in self.unknown_routes
        ]
        problems += [f"emulator error {e}" for e in self.internal_errors]
        if problems:
            raise AssertionError("the bot made invalid requests:\n" + "\n".join(problems))

    def messages(self, channel: Channel, *, include_deleted: bool = False) -> list[Message]:
        return self.store.in_channel(channel.id, include_deleted=include_deleted)

    def find_attachment(self, attachment_id: int) -> Attachment | None:
        """An uploaded file by id: on a message, or attached to a slash command option."""
        for message in self.store.all_messages():
            for attachment in message.attachments:
                if attachment.id == attachment_id:
                    return attachment
        return self._uploads.get(attachment_id)

    def commands_for(self, guild: Guild | None = None) -> list[JSON]:
        return self.commands.definitions(None if guild is None else guild.id)

    # -- waiting -------------------------------------------------------------------------
    async def wait_until_commands_synced(
        self,
        guild: Guild | None = None,
        *,
        timeout: float = 10.0,
    ) -> list[JSON]:
        """The stored definitions once the bot bulk-overwrote that scope (global by default)."""
        return await self.commands.wait_until_synced(
            None if guild is None else guild.id, timeout=timeout
        )

    async def wait_for_gateway(
        self,
        shards: int | None = None,
        *,
        timeout: float = 10.0,
    ) -> list[GatewayConnection]:
        """Until every shard (0..n-1) has identified or resumed."""
        return await self.gateway.wait_for_shards(shards, timeout=timeout)

    async def wait_for_message(
        self,
        channel: Channel,
        predicate: Callable[[Message], bool] | None = None,
        *,
        timeout: float = 10.0,
        include_existing: bool = True,
    ) -> Message:
        """A message in ``channel`` matching ``predicate``: already there, posted or edited later.

        With ``include_existing=False`` only messages created or edited after the call count.
        Ephemeral messages are included (check ``message.ephemeral``).
        """
        return await self.store.wait_for(
            channel, predicate, timeout=timeout, include_existing=include_existing
        )

    async def drop_gateway_connections(self, code: int = 4000) -> None:
        """Close the bot's websockets with a resumable code; discord.py should RESUME."""
        await self.gateway.drop_all(code)

    # -- personal places (user installs) ------------------------------------------------
    def install_for_user(self, member: Member) -> None:
        """``member`` adds the app to their own account (a user install)."""
        self.world.user_installs.add(member.id)

    def dm_with_bot(self, member: Member) -> tuple[Member, Channel]:
        """The member's DM with the bot: their stand-in there, and the channel."""
        place = self.world.add_place("bot_dm", f"DM {member.name}", bot_present=True)
        channel = place.add_channel(f"dm-{member.name}", type=1)
        return place.add_existing_user(member.user), channel

    def group_dm(self, member: Member, *others: Member) -> tuple[Member, Channel]:
        """A group DM ``member`` opened with ``others``; the bot is never in one."""
        place = self.world.add_place("group_dm", f"group of {member.name}", bot_present=False)
        channel = place.add_channel(f"group-{member.name}", type=3)
        for other in others:
            place.add_existing_user(other.user)
        return place.add_existing_user(member.user), channel

    def server_without_bot(self, member: Member, name: str = "Elsewhere") -> tuple[Member, Channel]:
        """A server the bot is not in (READY never lists it), with ``member`` in it."""
        place = self.world.add_place("server", name, bot_present=False)
        channel = place.add_channel("chat")
        return place.add_existing_user(member.user), channel

    # -- members acting -------------------------------------------------------------------
    async def run_slash_command(
        self,
        member: Member,
        channel: Channel,
        command: str,
        /,
        *subcommands: str,
        options: Mapping[str, Any] | None = None,
        locale: str = "en-US",
        attachment_size_limit: int | None = None,
        **kwargs: Any,
    ) -> InteractionRecord:
        """``member`` runs ``/command [group] [subcommand]`` in ``channel`` with option values.

        ``command`` may hold the whole path (``"quota set-user"``). Options come as keyword
        arguments (``_`` matches ``-`` in names; ``member=``/``channel=`` work too, the first
        three parameters are positional-only) or ``options={...}`` for names that clash with
        ``options``/``locale``/``attachment_size_limit``. Members, roles and channels are the
        emulator's objects, files are :class:`Upload`.
        """
        words = command.split() + list(subcommands)
        limit = attachment_size_limit or channel.guild.upload_limit
        all_options = {**(options or {}), **kwargs}

        def make_attachment(filename: str, data: bytes) -> Attachment:
            if len(data) > limit:
                raise ClientRejected(f"{filename} is {len(data)} bytes; this server allows {limit}")
            attachment = self.messaging.make_attachment(channel.id, filename, data, ephemeral=True)
            self._uploads[attachment.id] = attachment
            return attachment

        data, path = build_slash_data(
            self.commands, member, channel, words, all_options, make_attachment
        )
        return await self._send(
            APPLICATION_COMMAND, path, member, channel, data, locale=locale, limit=limit
        )

    async def autocomplete(
        self,
        member: Member,
        channel: Channel,
        command: str,
        /,
        *subcommands: str,
        focused: str,
        options: Mapping[str, Any] | None = None,
        locale: str = "en-US",
        **kwargs: Any,
    ) -> InteractionRecord:
        """``member`` is typing option ``focused`` of ``/command``; the client asks for choices.

        The focused option's value is the text typed so far (``""`` if left out); the
        bot must answer with callback type 8 (at most 25 choices) within the deadline.
        Await :meth:`InteractionRecord.wait_for_choices` for the answer.
        """
        words = command.split() + list(subcommands)
        all_options = {**(options or {}), **kwargs}

        def no_uploads(filename: str, data: bytes) -> Attachment:
            raise ClientRejected("the client sends no files while the member is still typing")

        data, path = build_slash_data(
            self.commands, member, channel, words, all_options, no_uploads, focused=focused
        )
        return await self._send(AUTOCOMPLETE, path, member, channel, data, locale=locale)

    async def run_message_command(
        self, member: Member, message: Message, name: str, *, locale: str = "en-US"
    ) -> InteractionRecord:
        """``member`` right-clicks ``message`` → Apps → ``name`` (a message command, type 3)."""
        data = build_message_command_data(self.commands, member, message, name)
        return await self._send(
            APPLICATION_COMMAND, name, member, message.channel, data, locale=locale
        )

    async def press_button(
        self,
        member: Member,
        message: Message,
        custom_id: str | None = None,
        *,
        label: str | None = None,
        locale: str = "en-US",
    ) -> InteractionRecord:
        """``member`` clicks a button (by custom_id or label) on ``message``."""
        if custom_id is None and label is None:
            raise TypeError("press_button needs a custom_id or a label")
        data = button_data(member, message, custom_id, label)
        return await self._send(
            MESSAGE_COMPONENT,
            data["custom_id"],
            member,
            message.channel,
            data,
            locale=locale,
            source=message,
        )

    async def press_forged_button(
        self,
        member: Member,
        message: Message,
        custom_id: str,
        *,
        shown_on_message: bool = True,
        locale: str = "en-US",
    ) -> InteractionRecord:
        """A crafted press: ``member``'s modified client sends ``custom_id`` for ``message``.

        A real client only sends the buttons a message has; this plays a hostile one, so
        a test can check that the bot trusts nothing a custom id says. With
        ``shown_on_message`` the interaction's copy of the message carries the forged
        button too (as if Discord had not checked), so discord.py dispatches it like a
        real press; without, the copy is the message as posted. The stored message never
        changes, and everything else (who may see the message) stays checked.
        """
        check_can_see(member, message)
        data: JSON = {"custom_id": custom_id, "component_type": 2}
        shown = message.payload()
        if shown_on_message:
            forged = {"type": 2, "style": 2, "label": "Forged", "custom_id": custom_id}
            shown["components"] = [*shown["components"], {"type": 1, "components": [forged]}]
        return await self._send(
            MESSAGE_COMPONENT,
            custom_id,
            member,
            message.channel,
            data,
            locale=locale,
            source=message,
            source_payload=shown,
        )

    async def choose(
        self,
        member: Member,
        message: Message,
        custom_id: str,
        values: Sequence[str],
        *,
        locale: str = "en-US",
    ) -> InteractionRecord:
        """``member`` picks ``values`` in the select menu ``custom_id`` on ``message``."""
        data = select_data(member, message, custom_id, list(values))
        return await self._send(
            MESSAGE_COMPONENT,
            custom_id,
            member,
            message.channel,
            data,
            locale=locale,
            source=message,
        )

    async def submit_modal(
        self,
        member: Member,
        modal: ModalRecord | InteractionRecord,
        values: Mapping[str, str | list[str]],
        *,
        locale: str = "en-US",
    ) -> InteractionRecord:
        """``member`` fills the modal the bot opened (keys: custom_id or label) and submits."""
        if isinstance(modal, InteractionRecord):
            if modal.modal is None:
                raise ClientRejected(f"{modal!r} did not open a modal")
            modal = modal.modal
        opener = modal.opened_by
        if member is not opener.member:
            raise ClientRejected(f"only {opener.member.name} sees {modal!r}, not {member.name}")
        data = modal_submit_data(modal, values)
        return await self._send(
            MODAL_SUBMIT,
            modal.title,
            member,
            opener.channel,
            data,
            locale=locale,
            source=opener.source_message,
        )

    async def submit_forged_modal(
        self,
        member: Member,
        modal: ModalRecord,
        values: Mapping[str, str | list[str]],
        custom_id: str,
        *,
        locale: str = "en-US",
    ) -> InteractionRecord:
        """Submit ``modal`` as a hostile client would: filled in, but under ``custom_id``.

        A modal's custom id comes back from the client as it pleases; nothing on
        Discord's side ties it to the dialog the bot opened.
        """
        opener = modal.opened_by
        if member is not opener.member:
            raise ClientRejected(f"only {opener.member.name} sees {modal!r}, not {member.name}")
        data = modal_submit_data(modal, values)
        data["custom_id"] = custom_id
        return await self._send(
            MODAL_SUBMIT,
            modal.title,
            member,
            opener.channel,
            data,
            locale=locale,
            source=opener.source_message,
        )

    async def send_message(
        self, member: Member, channel: Channel, content: str, *, reply_to: Message | None = None
    ) -> Message:
        """``member`` types a message in ``channel`` (the bot gets MESSAGE_CREATE)."""
        perms = member.permissions_in(channel)
        if perms & (Permission.VIEW_CHANNEL | Permission.SEND_MESSAGES) != (
            Permission.VIEW_CHANNEL | Permission.SEND_MESSAGES
        ):
            raise ClientRejected(f"{member.name} cannot send messages in #{channel.name}")
        payload: JSON = {"content": content}
        if reply_to is not None:
            payload["message_reference"] = {"message_id": str(reply_to.id)}
        try:
            return self.messaging.create(
                channel,
                member.user,
                RequestBody(payload=payload),
                per_file_limit=channel.guild.upload_limit,
            )
        except Exception as exc:
            raise ClientRejected(f"the client would not send that: {exc}") from exc

    async def _send(
        self,
        interaction_type: int,
        name: str,
        member: Member,
        channel: Channel,
        data: JSON,
        *,
        locale: str,
        limit: int | None = None,
        source: Message | None = None,
        source_payload: JSON | None = None,
    ) -> InteractionRecord:
        guild = channel.guild
        if self.gateway.connection_for(guild) is None:
            await self.gateway.wait_for_shards(None, timeout=5.0)
            if self.gateway.connection_for(guild) is None:
                raise RuntimeError(f"no gateway connection owns {guild!r}; is the bot running?")
        limit = limit or guild.upload_limit
        interaction_id = self.world.snowflakes.next()
        token = new_interaction_token()
        payload = interaction_base(
            interaction_id=interaction_id,
            interaction_type=interaction_type,
            token=token,
            application_id=self.application_id,
            member=member,
            channel=channel,
            locale=locale,
            attachment_size_limit=limit,
            data=data,
        )
        if source is not None:
            payload["message"] = source_payload or source.payload()
        record = InteractionRecord(
            id=interaction_id,
            token=token,
            type=interaction_type,
            name=name,
            member=member,
            channel=channel,
            payload=payload,
            created_at=self.clock.now(),
            attachment_size_limit=limit,
            signal=self.store.signal,
            clock_now=self.clock.now,
            source_message=source,
            deadline=self.interaction_deadline,
        )
        self.registry.add(record)
        sent = self.gateway.dispatch(guild, "INTERACTION_CREATE", payload)
        if sent is not None:
            try:
                await asyncio.wait_for(sent, timeout=5.0)
            except (ConnectionError, TimeoutError) as exc:
                raise RuntimeError(
                    f"the bot's gateway connection dropped before {record!r} was sent"
                ) from exc
        return record


def _application_flags(privileged_intents: int) -> int:
    """The "limited" gateway intent flags an unverified bot has once enabled in the portal."""
    flags = 0
    if privileged_intents & (1 << 8):
        flags |= 1 << 13
    if privileged_intents & (1 << 1):
        flags |= 1 << 15
    if privileged_intents & (1 << 15):
        flags |= 1 << 19
    return flags
