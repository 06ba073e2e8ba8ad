"""The REST routes discord.py uses, under ``/api/v10``, with Discord's auth and headers.

Bot routes need ``Authorization: Bot <token>``; interaction callbacks and webhook
routes authenticate by the token in the URL. Every response carries rate-limit
headers, and every 4xx is recorded (route, status, code) so tests can assert the
bot never made an invalid request. Unknown routes answer 404 with code 0 and log a
warning, so a route the emulator lacks is noticed rather than silently ignored.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.emulators.discord.errors import (
    ApiError,
    FormErrors,
    cannot_edit_others_message,
    invalid_form_body,
    missing_access,
    missing_permissions,
    route_not_found,
    unauthorized,
    unknown_application,
    unknown_channel,
    unknown_guild,
    unknown_member,
    unknown_message,
    unknown_user,
)
from tests.emulators.discord.messages import Message
from tests.emulators.discord.permissions import Permission
from tests.emulators.discord.state import Channel, Guild
from tests.emulators.discord.uploads import read_body, read_json

if TYPE_CHECKING:
    from tests.emulators.discord.server import DiscordEmulator

log = logging.getLogger(__name__)
JSON = dict[str, Any]
Reply = tuple[int, Any]
Handler = Callable[[web.Request], Awaitable[Reply]]
Endpoint = Callable[[web.Request], Awaitable[web.StreamResponse]]

API_PREFIX = "/api/v10"
_TOKEN_IN_PATH = re.compile(r"(/(?:webhooks/\d+|interactions/\d+)/)([^/]+)")


@dataclass(frozen=True)
class ServedRequest:
    """One request the emulator answered (tokens in the path are redacted)."""

    method: str
    path: str
    route: str
    status: int
    code: int | None = None
    message: str | None = None
    errors: JSON | None = None

    def __str__(self) -> str:
        detail = f" {self.code} {self.message}" if self.code is not None else ""
        extra = f" {json.dumps(self.errors)}" if self.errors else ""
        return f"{self.method} {self.path} -> {self.status}{detail}{extra}"


def redact(path: str) -> str:
    return _TOKEN_IN_PATH.sub(r"\1<token>", path)


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    """discord.py only parses bodies whose Content-Type is exactly ``application/json``."""
    all_headers = {"Content-Type": "application/json"}
    all_headers.update(headers or {})
    if status == 204 or body is None:
        return web.Response(status=204 if body is None else status, headers=headers)
    return web.Response(status=status, body=json.dumps(body).encode(), headers=all_headers)


def _snowflake(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    if not raw.isdigit():
        errors = FormErrors()
        errors.add((name,), "NUMBER_TYPE_COERCE", f'Value "{raw}" is not snowflake.')
        raise invalid_form_body(errors)
    return int(raw)


def _query_int(query: Mapping[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    if not raw.isdigit():
        errors = FormErrors()
        errors.add((name,), "NUMBER_TYPE_COERCE", f'Value "{raw}" is not int.')
        raise invalid_form_body(errors)
    return int(raw)


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("1", "true", "yes")


class RestApi:
    def __init__(self, emulator: DiscordEmulator) -> None:
        self.emu = emulator
        self.world = emulator.world

    # -- plumbing -------------------------------------------------------------------
    def install(self, app: web.Application) -> None:
        bot, url_token = True, False
        routes: list[tuple[str, str, Handler, bool]] = [
            ("GET", "/users/@me", self.get_me, bot),
            ("POST", "/users/@me/channels", self.open_direct_channel, bot),
            ("GET", "/users/{user_id}", self.get_user, bot),
            ("GET", "/oauth2/applications/@me", self.get_application, bot),
            ("GET", "/applications/@me", self.get_application, bot),
            ("GET", "/gateway", self.get_gateway, url_token),
            ("GET", "/gateway/bot", self.get_gateway_bot, bot),
            ("GET", "/applications/{application_id}/commands", self.get_commands, bot),
            ("PUT", "/applications/{application_id}/commands", self.put_commands, bot),
            ("GET", "/applications/{application_id}/commands/{command_id}", self.get_command, bot),
            (
                "GET",
                "/applications/{application_id}/guilds/{guild_id}/commands",
                self.get_commands,
                bot,
            ),
            (
                "PUT",
                "/applications/{application_id}/guilds/{guild_id}/commands",
                self.put_commands,
                bot,
            ),
            (
                "GET",
                "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}",
                self.get_command,
                bot,
            ),
            ("GET", "/channels/{channel_id}", self.get_channel, bot),
            ("GET", "/channels/{channel_id}/messages", self.list_messages, bot),
            ("POST", "/channels/{channel_id}/messages", self.post_message, bot),
            ("GET", "/channels/{channel_id}/messages/{message_id}", self.get_message, bot),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self.patch_message, bot),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}", self.delete_message, bot),
            ("POST", "/channels/{channel_id}/typing", self.typing, bot),
            ("GET", "/guilds/{guild_id}", self.get_guild, bot),
            ("GET", "/guilds/{guild_id}/channels", self.get_guild_channels, bot),
            ("GET", "/guilds/{guild_id}/roles", self.get_guild_roles, bot),
            ("GET", "/guilds/{guild_id}/members/{user_id}", self.get_member, bot),
            ("POST", "/interactions/{interaction_id}/{token}/callback", self.callback, url_token),
            (
                "GET",
                "/webhooks/{application_id}/{token}/messages/@original",
                self.get_original,
                url_token,
            ),
            (
                "PATCH",
                "/webhooks/{application_id}/{token}/messages/@original",
                self.patch_original,
                url_token,
            ),
            (
                "DELETE",
                "/webhooks/{application_id}/{token}/messages/@original",
                self.delete_original,
                url_token,
            ),
            ("POST", "/webhooks/{application_id}/{token}", self.followup, url_token),
            (
                "GET",
                "/webhooks/{application_id}/{token}/messages/{message_id}",
                self.get_webhook_message,
                url_token,
            ),
            (
                "PATCH",
                "/webhooks/{application_id}/{token}/messages/{message_id}",
                self.patch_webhook_message,
                url_token,
            ),
            (
                "DELETE",
                "/webhooks/{application_id}/{token}/messages/{message_id}",
                self.delete_webhook_message,
                url_token,
            ),
        ]
        for method, template, handler, needs_bot in routes:
            app.router.add_route(
                method, API_PREFIX + template, self._wrap(method, template, handler, needs_bot)
            )
        app.router.add_get(
            "/attachments/{channel_id}/{attachment_id}/{filename}", self.get_attachment
        )
        app.router.add_get("/gateway", self.emu.gateway.handle)
        app.router.add_route("*", "/{tail:.*}", self.unknown_route)

    def _wrap(self, method: str, template: str, handler: Handler, needs_bot: bool) -> Endpoint:
        route_key = f"{method} {template}"

        async def endpoint(request: web.Request) -> web.StreamResponse:
            major = "+".join(
                request.match_info[k]
                for k in ("channel_id", "guild_id", "application_id", "token")
                if k in request.match_info
            )
            injection = self.emu.rate_limiter.take(method, request.path)
            if injection is not None:
                self.emu.rate_limiter.record(method, redact(request.path), injection)
                self._record(request, template, 429, None)
                body = {
                    "message": "You are being rate limited.",
                    "retry_after": injection.retry_after,
                    "global": injection.global_,
                }
                return json_response(
                    429, body, self.emu.rate_limiter.headers_429(route_key, injection)
                )
            stall = self.emu.stalls.take(method, request.path)
            if stall is not None and not stall.after_handling:
                await self.emu.stalls.hold(f"{method} {redact(request.path)}")
                self._record(request, template, 503, None)
                return json_response(503, {"message": "upstream stalled", "code": 0})
            try:
                if needs_bot and not self._authorized(request):
                    raise unauthorized()
                status, body = await handler(request)
                if stall is not None:  # applied; the answer is what never comes
                    await self.emu.stalls.hold(f"{method} {redact(request.path)}")
            except ApiError as error:
                self._record(request, template, error.status, error)
                response = json_response(error.status, error.body())
            except Exception as exc:
                # An emulator bug must fail the test loudly, not look like a Discord answer.
                log.exception("discord emulator crashed on %s %s", method, redact(request.path))
                self.emu.internal_errors.append(f"{method} {redact(request.path)}: {exc!r}")
                self._record(request, template, 503, None)
                response = json_response(503, {"message": f"emulator error: {exc!r}", "code": 0})
            else:
                self._record(request, template, status, None)
                response = json_response(status, body)
            response.headers.update(self.emu.rate_limiter.headers(route_key, major))
            return response

        return endpoint

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        return secrets.compare_digest(header, f"Bot {self.world.bot_token}")

    def _record(
        self, request: web.Request, template: str, status: int, error: ApiError | None
    ) -> None:
        served = ServedRequest(
            method=request.method,
            path=redact(request.path),
            route=template,
            status=status,
            code=None if error is None else error.code,
            message=None if error is None else error.message,
            errors=None if error is None else error.errors,
        )
        self.emu.requests.append(served)
        if status in (401, 403, 429):
            self.emu.invalid_request_count += 1
        if 400 <= status < 500 and status != 429:
            log.info("emulator answered %s", served)

    async def unknown_route(self, request: web.Request) -> web.StreamResponse:
        path = redact(request.path)
        log.warning(
            "discord emulator: no route for %s %s (add it if the bot needs it)",
            request.method,
            path,
        )
        self.emu.unknown_routes.append(f"{request.method} {path}")
        error = route_not_found()
        self._record(request, "<unknown>", 404, error)
        response = json_response(404, error.body())
        response.headers.update(self.emu.rate_limiter.headers("<unknown>", ""))
        return response

    # -- lookups ----------------------------------------------------------------------
    def _channel(self, request: web.Request) -> Channel:
        channel = self.world.get_channel(_snowflake(request, "channel_id"))
        if channel is None:
            raise unknown_channel()
        if not channel.guild.bot_present:  # only a user installed the app there
            raise missing_access()
        if not channel.guild.me.permissions_in(channel) & Permission.VIEW_CHANNEL:
            raise missing_access()
        return channel

    def _guild(self, request: web.Request) -> Guild:
        guild = self.world.get_guild(_snowflake(request, "guild_id"))
        if guild is None:
            raise unknown_guild()
        return guild

    def _channel_message(self, request: web.Request, channel: Channel) -> Message:
        message = self.emu.store.get(_snowflake(request, "message_id"))
        if (
            message is None
            or message.deleted
            or message.ephemeral
            or message.channel is not channel
        ):
            raise unknown_message()
        return message

    def _check_application(self, request: web.Request) -> None:
        if _snowflake(request, "application_id") != self.world.application_id:
            raise unknown_application()

    # -- users, application, gateway ----------------------------------------------------
    async def get_me(self, request: web.Request) -> Reply:
        return 200, self.world.bot_user_payload()

    async def get_user(self, request: web.Request) -> Reply:
        user = self.world.users.get(_snowflake(request, "user_id"))
        if user is None:
            raise unknown_user()
        return 200, user.payload()

    async def get_application(self, request: web.Request) -> Reply:
        return 200, self.world.application_payload()

    async def get_gateway(self, request: web.Request) -> Reply:
        return 200, {"url": self.emu.gateway_url}

    async def get_gateway_bot(self, request: web.Request) -> Reply:
        return 200, {
            "url": self.emu.gateway_url,
            "shards": self.emu.recommended_shards,
            "session_start_limit": {
                "total": 1000,
                "remaining": 1000 - self.emu.gateway.identify_count,
                "reset_after": 14_400_000,
                "max_concurrency": 1,
            },
        }

    # -- application commands -----------------------------------------------------------
    def _command_scope(self, request: web.Request) -> int | None:
        self._check_application(request)
        if "guild_id" not in request.match_info:
            return None
        guild = self.world.get_guild(_snowflake(request, "guild_id"))
        if guild is None:
            raise missing_access()
        return guild.id

    async def get_commands(self, request: web.Request) -> Reply:
        return 200, self.emu.commands.definitions(self._command_scope(request))

    async def put_commands(self, request: web.Request) -> Reply:
        scope = self._command_scope(request)
        payload = await read_json(request)
        return 200, self.emu.commands.bulk_overwrite(scope, payload)

    async def get_command(self, request: web.Request) -> Reply:
        scope = self._command_scope(request)
        return 200, self.emu.commands.get(scope, _snowflake(request, "command_id"))

    # -- channels and messages ------------------------------------------------------------
    async def get_channel(self, request: web.Request) -> Reply:
        return 200, self._channel(request).payload()

    async def list_messages(self, request: web.Request) -> Reply:
        channel = self._channel(request)
        if not channel.guild.me.permissions_in(channel) & Permission.READ_MESSAGE_HISTORY:
            return 200, []
        query = request.query
        limit = max(1, min(100, _query_int(query, "limit", 50)))
        messages = [m for m in self.emu.store.in_channel(channel.id) if not m.ephemeral]
        if "before" in query:
            messages = [m for m in messages if m.id < _query_int(query, "before", 0)]
        if "after" in query:
            messages = [m for m in messages if m.id > _query_int(query, "after", 0)]
            return 200, [m.payload() for m in reversed(messages[:limit])]
        return 200, [m.payload() for m in reversed(messages[-limit:])]

    async def open_direct_channel(self, request: web.Request) -> Reply:
        return 200, self.emu.direct.open(await read_json(request)).payload()

    async def post_message(self, request: web.Request) -> Reply:
        direct = self.emu.direct.get(_snowflake(request, "channel_id"))
        if direct is not None:
            return 200, self.emu.direct.send(direct, await read_body(request)).payload()
        channel = self._channel(request)
        body = await read_body(request)
        perms = channel.guild.me.permissions_in(channel)
        needed = Permission.SEND_MESSAGES
        if body.files:
            needed |= Permission.ATTACH_FILES
        if body.payload.get("embeds"):
            needed |= Permission.EMBED_LINKS
        if perms & needed != needed:
            raise missing_permissions()
        message = self.emu.messaging.create(
            channel,
            self.world.bot_user,
            body,
            per_file_limit=channel.guild.upload_limit,
        )
        return 200, message.payload()

    async def get_message(self, request: web.Request) -> Reply:
        channel = self._channel(request)
        if not channel.guild.me.permissions_in(channel) & Permission.READ_MESSAGE_HISTORY:
            raise missing_access()
        return 200, self._channel_message(request, channel).payload()

    async def patch_message(self, request: web.Request) -> Reply:
        channel = self._channel(request)
        message = self._channel_message(request, channel)
        if message.author.id != self.world.bot_user.id or message.webhook_id is not None:
            raise cannot_edit_others_message()
        body = await read_body(request)
        self.emu.messaging.edit(message, body, per_file_limit=channel.guild.upload_limit)
        return 200, message.payload()

    async def delete_message(self, request: web.Request) -> Reply:
        channel = self._channel(request)
        message = self._channel_message(request, channel)
        own = message.author.id == self.world.bot_user.id
        if not own and not channel.guild.me.permissions_in(channel) & Permission.MANAGE_MESSAGES:
            raise missing_permissions()
        self.emu.messaging.delete(message)
        return 204, None

    async def typing(self, request: web.Request) -> Reply:
        channel = self._channel(request)
        if not channel.guild.me.permissions_in(channel) & Permission.SEND_MESSAGES:
            raise missing_permissions()
        return 204, None

    # -- guilds ---------------------------------------------------------------------------
    async def get_guild(self, request: web.Request) -> Reply:
        guild = self._guild(request)
        return 200, guild.rest_payload(with_counts=_truthy(request.query.get("with_counts")))

    async def get_guild_channels(self, request: web.Request) -> Reply:
        return 200, [c.payload() for c in self._guild(request).channels]

    async def get_guild_roles(self, request: web.Request) -> Reply:
        return 200, [r.payload() for r in self._guild(request).roles]

    async def get_member(self, request: web.Request) -> Reply:
        member = self._guild(request).get_member(_snowflake(request, "user_id"))
        if member is None:
            raise unknown_member()
        return 200, member.payload()

    # -- interactions ---------------------------------------------------------------------
    async def callback(self, request: web.Request) -> Reply:
        body = await read_body(request)
        result = self.emu.responder.callback(
            _snowflake(request, "interaction_id"),
            request.match_info["token"],
            body,
            with_response=_truthy(request.query.get("with_response")),
        )
        return (204, None) if result is None else (200, result)

    def _hook(self, request: web.Request) -> tuple[int, str]:
        return _snowflake(request, "application_id"), request.match_info["token"]

    async def get_original(self, request: web.Request) -> Reply:
        return 200, self.emu.responder.get_original(*self._hook(request))

    async def patch_original(self, request: web.Request) -> Reply:
        app_id, token = self._hook(request)
        body = await read_body(request)
        return 200, self.emu.responder.edit_original(app_id, token, body)

    async def delete_original(self, request: web.Request) -> Reply:
        self.emu.responder.delete_original(*self._hook(request))
        return 204, None

    async def followup(self, request: web.Request) -> Reply:
        app_id, token = self._hook(request)
        body = await read_body(request)
        message = self.emu.responder.followup(app_id, token, body)
        return (200, message) if _truthy(request.query.get("wait")) else (204, None)

    async def get_webhook_message(self, request: web.Request) -> Reply:
        app_id, token = self._hook(request)
        return 200, self.emu.responder.get_message(app_id, token, _snowflake(request, "message_id"))

    async def patch_webhook_message(self, request: web.Request) -> Reply:
        app_id, token = self._hook(request)
        body = await read_body(request)
        return 200, self.emu.responder.edit_message(
            app_id, token, _snowflake(request, "message_id"), body
        )

    async def delete_webhook_message(self, request: web.Request) -> Reply:
        app_id, token = self._hook(request)
        self.emu.responder.delete_message(app_id, token, _snowflake(request, "message_id"))
        return 204, None

    # -- the "CDN" ------------------------------------------------------------------------
    async def get_attachment(self, request: web.Request) -> web.StreamResponse:
        if self.emu.stalls.take("GET", request.path) is not None:  # a CDN that hangs
            await self.emu.stalls.hold(f"GET {request.path}")
            return web.Response(status=503, text="upstream stalled")
        attachment = self.emu.find_attachment(int(request.match_info["attachment_id"]))
        if attachment is None or attachment.filename != request.match_info["filename"]:
            return web.Response(status=404, text="Not Found")
        return web.Response(
            body=attachment.data,
            headers={"Content-Type": attachment.content_type or "application/octet-stream"},
        )
