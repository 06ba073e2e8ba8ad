"""The gateway: an aiohttp websocket speaking Discord's v10 JSON protocol.

Supports what discord.py uses: ``compress=zlib-stream`` (one zlib stream per
connection, every frame flushed with Z_SYNC_FLUSH so it ends in ``00 00 ff ff``) or
plain text frames, HELLO → IDENTIFY → READY → GUILD_CREATE, heartbeats, RESUME, and
several shards at once: a guild's events go only to the connection of shard
``(guild_id >> 22) % shard_count``. Anything unsupported (``encoding=etf``,
``compress=zstd-stream``) closes the socket with 4012, a code discord.py treats as
fatal, so the test fails loudly instead of reconnecting forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import zlib
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.emulators.discord.messages import Message
from tests.emulators.discord.signals import ChangeSignal
from tests.emulators.discord.state import Guild, World

log = logging.getLogger(__name__)
JSON = dict[str, Any]

DISPATCH, HEARTBEAT, IDENTIFY, PRESENCE_UPDATE, VOICE_STATE_UPDATE = 0, 1, 2, 3, 4
RESUME, RECONNECT, REQUEST_GUILD_MEMBERS, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 6, 7, 8, 9, 10, 11

GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT
ALL_INTENTS = (1 << 26) - 1

#: Which intent a guild event needs (None: always delivered).
EVENT_INTENTS: dict[str, int | None] = {
    "GUILD_CREATE": GUILDS,
    "GUILD_UPDATE": GUILDS,
    "GUILD_ROLE_CREATE": GUILDS,
    "CHANNEL_CREATE": GUILDS,
    "CHANNEL_UPDATE": GUILDS,
    "CHANNEL_DELETE": GUILDS,
    "GUILD_MEMBER_ADD": GUILD_MEMBERS,
    "MESSAGE_CREATE": GUILD_MESSAGES,
    "MESSAGE_UPDATE": GUILD_MESSAGES,
    "MESSAGE_DELETE": GUILD_MESSAGES,
    "INTERACTION_CREATE": None,
}

# Close codes (https://discord.com/developers/docs/topics/opcodes-and-status-codes).
UNKNOWN_OPCODE, DECODE_ERROR, NOT_AUTHENTICATED, AUTHENTICATION_FAILED = 4001, 4002, 4003, 4004
ALREADY_AUTHENTICATED, INVALID_SHARD, INVALID_API_VERSION = 4005, 4010, 4012
INVALID_INTENTS, DISALLOWED_INTENTS = 4013, 4014


@dataclass
class Session:
    id: str
    shard: tuple[int, int]
    intents: int
    seq: int = 0


@dataclass(frozen=True)
class GatewayClose:
    """A connection the emulator closed on purpose, and why."""

    code: int
    reason: str


@dataclass(eq=False)
class GatewayConnection:
    ws: web.WebSocketResponse
    compress: bool
    session: Session | None = None
    heartbeats: int = 0
    identified_at: float | None = None
    _queue: asyncio.Queue[tuple[str | None, asyncio.Future[None]] | None] = field(
        default_factory=asyncio.Queue
    )
    _compressor: Any = field(default_factory=zlib.compressobj)

    @property
    def shard(self) -> tuple[int, int] | None:
        return None if self.session is None else self.session.shard

    @property
    def intents(self) -> int:
        return 0 if self.session is None else self.session.intents

    def owns(self, guild: Guild) -> bool:
        return self.shard is not None and guild.shard_id(self.shard[1]) == self.shard[0]

    def send(self, op: int, d: Any, t: str | None = None) -> asyncio.Future[None]:
        """Queue a frame; sequence numbers are assigned here, in order, synchronously."""
        frame: JSON = {"op": op, "d": d, "s": None, "t": t}
        if op == DISPATCH and self.session is not None:
            self.session.seq += 1
            frame["s"] = self.session.seq
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((json.dumps(frame, separators=(",", ":")), done))
        return done

    async def writer(self) -> None:
        try:
            await self._write_all()
        finally:
            # Frames nobody will ever write: tell whoever awaits them.
            while not self._queue.empty():
                leftover = self._queue.get_nowait()
                if leftover is not None and not leftover[1].done():
                    leftover[1].set_exception(ConnectionError("gateway connection closed"))

    async def _write_all(self) -> None:
        while (item := await self._queue.get()) is not None:
            text, done = item
            try:
                if text is None:
                    pass  # a flush barrier: everything before it has been written
                elif self.compress:
                    data = self._compressor.compress(text.encode()) + self._compressor.flush(
                        zlib.Z_SYNC_FLUSH
                    )
                    await self.ws.send_bytes(data)
                else:
                    await self.ws.send_str(text)
            except (ConnectionError, RuntimeError) as exc:
                if not done.done():
                    done.set_exception(exc)
                continue
            if not done.done():
                done.set_result(None)

    async def flush(self) -> None:
        """Wait until every frame queued so far has been written."""
        barrier: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((None, barrier))
        with contextlib.suppress(ConnectionError, RuntimeError, TimeoutError):
            await asyncio.wait_for(asyncio.shield(barrier), timeout=5)

    async def close(self, code: int, reason: str) -> None:
        await self.flush()
        await self.ws.close(code=code, message=reason.encode()[:120])

    def stop_writer(self) -> None:
        self._queue.put_nowait(None)


class GatewayHub:
    """All gateway connections, and delivery of guild events to the right shard."""

    def __init__(
        self,
        world: World,
        *,
        heartbeat_interval_ms: int,
        privileged_intents: int,
        resume_url: str = "",
    ) -> None:
        self.world = world
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.privileged_intents = privileged_intents
        self.resume_url = resume_url
        self.connections: list[GatewayConnection] = []
        self.sessions: dict[str, Session] = {}
        self.closes: list[GatewayClose] = []
        self.identify_count = 0
        self.resume_count = 0
        self.signal = ChangeSignal()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- delivery ---------------------------------------------------------------
    def ready_connections(self) -> list[GatewayConnection]:
        return [c for c in self.connections if c.session is not None and not c.ws.closed]

    def connection_for(self, guild: Guild) -> GatewayConnection | None:
        if guild.kind != "server":  # events without a guild arrive on shard 0 only
            owners = [
                c for c in self.ready_connections() if c.shard is not None and c.shard[0] == 0
            ]
            return owners[-1] if owners else None
        owners = [c for c in self.ready_connections() if c.owns(guild)]
        return owners[-1] if owners else None

    def dispatch_guild_event(self, guild: Guild | None, event: str, payload: JSON) -> None:
        """Called synchronously by the world when tests change it after the bot connected."""
        if guild is None:
            return
        if event == "GUILD_CREATE":
            for conn in self.ready_connections():
                if conn.owns(guild):
                    conn.send(DISPATCH, self._guild_create(guild, conn), "GUILD_CREATE")
            return
        self.dispatch(guild, event, payload)

    def dispatch(self, guild: Guild, event: str, payload: JSON) -> asyncio.Future[None] | None:
        conn = self.connection_for(guild)
        if conn is None:
            return None
        needed = EVENT_INTENTS.get(event, GUILDS)
        if needed is not None and not conn.intents & needed:
            return None
        return conn.send(DISPATCH, payload, event)

    def dispatch_message(self, event: str, message: Message) -> None:
        guild = message.channel.guild
        if guild.kind != "server" or not guild.bot_present:
            return  # DMs need an intent the bot does not ask for; elsewhere it is not there
        conn = self.connection_for(guild)
        if conn is None or not conn.intents & GUILD_MESSAGES:
            return
        if event == "MESSAGE_DELETE":
            payload: JSON = {
                "id": str(message.id),
                "channel_id": str(message.channel.id),
                "guild_id": str(guild.id),
            }
        else:
            bot_id = self.world.bot_user.id
            visible = (
                bool(conn.intents & MESSAGE_CONTENT)
                or message.author.id == bot_id
                or bot_id in message.mention_ids
            )
            payload = message.payload(hide_content=not visible)
            payload["guild_id"] = str(guild.id)
            member = guild.get_member(message.author.id)
            if member is not None and message.webhook_id is None:
                payload["member"] = member.payload(with_user=False)
        conn.send(DISPATCH, payload, event)

    def _guild_create(self, guild: Guild, conn: GatewayConnection) -> JSON:
        return guild.gateway_create_payload(all_members=bool(conn.intents & GUILD_MEMBERS))

    async def wait_for_shards(
        self,
        shard_count: int | None,
        *,
        timeout: float,
    ) -> list[GatewayConnection]:
        def check() -> list[GatewayConnection] | None:
            ready = self.ready_connections()
            if not ready:
                return None
            count = shard_count or ready[-1].shard[1]  # type: ignore[index]
            shards = {c.shard[0] for c in ready if c.shard is not None and c.shard[1] == count}
            return ready if shards >= set(range(count)) else None

        return await self.signal.wait_for(
            check,
            timeout=timeout,
            describe=lambda: (
                f"ready shards: {[c.shard for c in self.ready_connections()]}; "
                f"closes: {self.closes}"
            ),
        )

    async def drop_all(
        self, code: int = 4000, reason: str = "emulator dropped the connection"
    ) -> None:
        """Close every connection with a resumable code, as a Discord restart would."""
        for conn in list(self.connections):
            await conn.close(code, reason)

    async def close_all(self) -> None:
        for conn in list(self.connections):
            with contextlib.suppress(Exception):
                await conn.ws.close(code=1001, message=b"emulator shutting down")
            conn.stop_writer()
        for task in list(self._tasks):
            task.cancel()
        self.connections.clear()

    # -- the websocket endpoint -------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0, autoclose=True)
        await ws.prepare(request)
        params = request.query
        compress = params.get("compress")
        conn = GatewayConnection(ws=ws, compress=compress == "zlib-stream")
        writer = asyncio.create_task(conn.writer())
        self._tasks.add(writer)
        writer.add_done_callback(self._tasks.discard)
        self.connections.append(conn)
        try:
            problem = self._query_problem(params.get("v"), params.get("encoding", "json"), compress)
            if problem:
                await self._close(conn, INVALID_API_VERSION, problem)
                return ws
            conn.send(
                HELLO, {"heartbeat_interval": self.heartbeat_interval_ms, "_trace": ["emulator"]}
            )
            await self._read_loop(conn)
        finally:
            conn.stop_writer()
            if conn in self.connections:
                self.connections.remove(conn)
            self.signal.notify()
        return ws

    @staticmethod
    def _query_problem(version: str | None, encoding: str, compress: str | None) -> str | None:
        if version not in (None, "9", "10"):
            return f"Invalid API version {version!r}"
        if encoding != "json":
            return f"the emulator only speaks encoding=json, not {encoding!r}"
        if compress not in (None, "zlib-stream"):
            return f"the emulator only supports compress=zlib-stream, not {compress!r}"
        return None

    async def _close(self, conn: GatewayConnection, code: int, reason: str) -> None:
        log.warning("gateway: closing connection with %s %s", code, reason)
        self.closes.append(GatewayClose(code, reason))
        await conn.close(code, reason)

    async def _read_loop(self, conn: GatewayConnection) -> None:
        async for msg in conn.ws:
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                try:
                    frame = json.loads(msg.data)
                    op = frame["op"]
                except (ValueError, KeyError, TypeError):
                    await self._close(conn, DECODE_ERROR, "Error while decoding payload.")
                    return
                if not await self._handle_op(conn, op, frame.get("d")):
                    return
            elif msg.type == WSMsgType.ERROR:
                return

    async def _handle_op(self, conn: GatewayConnection, op: Any, d: Any) -> bool:
        if op == HEARTBEAT:
            conn.heartbeats += 1
            conn.send(HEARTBEAT_ACK, None)
            return True
        if op == IDENTIFY:
            return await self._identify(conn, d)
        if op == RESUME:
            return await self._resume(conn, d)
        if conn.session is None:
            await self._close(conn, NOT_AUTHENTICATED, "Not authenticated.")
            return False
        if op == REQUEST_GUILD_MEMBERS:
            self._member_chunk(conn, d)
            return True
        if op in (PRESENCE_UPDATE, VOICE_STATE_UPDATE):
            return True
        await self._close(conn, UNKNOWN_OPCODE, f"Unknown opcode {op}.")
        return False

    def _token_ok(self, token: Any) -> bool:
        if not isinstance(token, str):
            return False
        raw = token.removeprefix("Bot ")
        return secrets.compare_digest(raw, self.world.bot_token)

    async def _identify(self, conn: GatewayConnection, d: Any) -> bool:
        if conn.session is not None:
            await self._close(conn, ALREADY_AUTHENTICATED, "Already authenticated.")
            return False
        if not isinstance(d, dict) or not isinstance(d.get("properties"), dict):
            await self._close(conn, DECODE_ERROR, "Error while decoding payload.")
            return False
        if not self._token_ok(d.get("token")):
            await self._close(conn, AUTHENTICATION_FAILED, "Authentication failed.")
            return False
        intents = d.get("intents")
        if (
            not isinstance(intents, int)
            or isinstance(intents, bool)
            or intents < 0
            or intents & ~ALL_INTENTS
        ):
            await self._close(conn, INVALID_INTENTS, "Invalid intent(s).")
            return False
        if intents & PRIVILEGED_INTENTS & ~self.privileged_intents:
            await self._close(conn, DISALLOWED_INTENTS, "Disallowed intent(s).")
            return False
        shard = d.get("shard", [0, 1])
        if (
            not isinstance(shard, list)
            or len(shard) != 2
            or not all(isinstance(x, int) for x in shard)
            or not 0 <= shard[0] < shard[1]
        ):
            await self._close(conn, INVALID_SHARD, "Invalid shard.")
            return False
        session = Session(id=secrets.token_hex(16), shard=(shard[0], shard[1]), intents=intents)
        self.sessions[session.id] = session
        conn.session = session
        self.identify_count += 1
        guilds = [g for g in self.world.guilds if conn.owns(g)]
        conn.send(DISPATCH, self._ready(session, guilds), "READY")
        for guild in guilds:
            conn.send(DISPATCH, self._guild_create(guild, conn), "GUILD_CREATE")
        self.signal.notify()
        return True

    def _ready(self, session: Session, guilds: list[Guild]) -> JSON:
        return {
            "v": 10,
            "user": self.world.bot_user_payload(),
            "user_settings": {},
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.resume_url,
            "shard": list(session.shard),
            "application": {
                "id": str(self.world.application_id),
                "flags": self.world.application_flags,
            },
            "_trace": ["emulator"],
        }

    async def _resume(self, conn: GatewayConnection, d: Any) -> bool:
        if not isinstance(d, dict) or not self._token_ok(d.get("token")):
            await self._close(conn, AUTHENTICATION_FAILED, "Authentication failed.")
            return False
        session = self.sessions.get(str(d.get("session_id")))
        if session is None:
            conn.send(INVALID_SESSION, False)
            return True
        conn.session = session
        self.resume_count += 1
        conn.send(DISPATCH, {"_trace": ["emulator"]}, "RESUMED")
        self.signal.notify()
        return True

    def _member_chunk(self, conn: GatewayConnection, d: Any) -> None:
        if not isinstance(d, dict):
            return
        guild = self.world.get_guild(int(d.get("guild_id", 0)))
        if guild is None:
            return
        wanted = {int(u) for u in d.get("user_ids") or []}
        query = d.get("query")
        members = [
            m
            for m in guild.members.values()
            if (wanted and m.id in wanted) or (query is not None and m.name.startswith(query))
        ]
        if not conn.intents & GUILD_MEMBERS and not wanted:
            members = [guild.me] if guild.me.name.startswith(query or "") else []
        payload: JSON = {
            "guild_id": str(guild.id),
            "members": [m.payload() for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
        }
        if d.get("nonce"):
            payload["nonce"] = d["nonce"]
        if wanted:
            payload["not_found"] = [str(u) for u in wanted - {m.id for m in members}]
        conn.send(DISPATCH, payload, "GUILD_MEMBERS_CHUNK")
