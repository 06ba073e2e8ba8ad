"""Is the bot healthy? One answer for Docker's HEALTHCHECK, ``/ready`` and ``imagine-bot health``.

Healthy means two things an owner cares about: the gateway connection is up (members'
commands reach the bot) and the database answers (quotas can be checked). The running
bot writes that answer, with a timestamp, to HEALTH_FILE every few seconds; the
``health`` command only reads the file. That keeps the healthcheck independent of
METRICS_PORT (no HTTP server needed in the container), cheap (no second connection to
Discord or the database) and honest about a hung process: a file that stops being
refreshed goes stale, and stale is unhealthy.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

from bot.store.base import Store

log = logging.getLogger(__name__)

WRITE_INTERVAL: Final = 15.0
"""Seconds between refreshes of the health file when nothing changes."""

MAX_AGE: Final = 60.0
"""A file older than this means the bot stopped refreshing it (hung or gone)."""

STORE_PROBE_TIMEOUT: Final = 5.0


@dataclass(frozen=True)
class HealthStatus:
    connected: bool
    store_ok: bool
    at: float
    """Wall-clock seconds (``time.time()``) when this was observed."""

    @property
    def healthy(self) -> bool:
        return self.connected and self.store_ok

    def problems(self) -> list[str]:
        found: list[str] = []
        if not self.connected:
            found.append("not connected to Discord")
        if not self.store_ok:
            found.append("the database is not usable")
        return found

    def to_json(self) -> str:
        return json.dumps({"connected": self.connected, "store_ok": self.store_ok, "at": self.at})

    @classmethod
    def from_json(cls, text: str) -> HealthStatus:
        """Parse a health file; ``ValueError`` names what is wrong with it."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        connected, store_ok, at = data.get("connected"), data.get("store_ok"), data.get("at")
        if not isinstance(connected, bool) or not isinstance(store_ok, bool):
            raise ValueError("'connected' and 'store_ok' must be true or false")
        if isinstance(at, bool) or not isinstance(at, int | float) or not math.isfinite(at):
            raise ValueError("'at' must be a timestamp")
        return cls(connected=connected, store_ok=store_ok, at=float(at))


class ShardState(Protocol):
    def is_closed(self) -> bool: ...


class GatewayState(Protocol):
    """What ``gateway_connected`` reads from the bot (a ``discord.AutoShardedClient``)."""

    def is_ready(self) -> bool: ...

    def is_closed(self) -> bool: ...

    @property
    def shards(self) -> Mapping[int, ShardState]: ...


def gateway_connected(client: GatewayState) -> bool:
    """Ready, not closed, and every shard this process runs has an open websocket.

    ``is_ready`` alone stays true through a reconnect, which is exactly when the bot is
    not receiving commands; the shards' sockets say whether it is right now.
    """
    if client.is_closed() or not client.is_ready():
        return False
    shards = client.shards
    return bool(shards) and not any(shard.is_closed() for shard in shards.values())


async def probe_store(store: Store) -> None:
    """Raise unless the store can answer a query.

    A lookup of a generation that cannot exist: an indexed read through the same
    connection pool the bot serves members with, that writes nothing.
    """
    await store.get_generation(0)


class HealthProbe:
    """Observes the two conditions; the store check is bounded so a stuck database reads as
    unusable instead of hanging the health writer or ``/ready``."""

    def __init__(
        self,
        connected: Callable[[], bool],
        store_probe: Callable[[], Awaitable[object]],
        *,
        clock: Callable[[], float] = time.time,
        store_timeout: float = STORE_PROBE_TIMEOUT,
    ) -> None:
        self._connected = connected
        self._store_probe = store_probe
        self._clock = clock
        self._store_timeout = store_timeout
        self._store_was_ok = True

    def connected(self) -> bool:
        try:
            return bool(self._connected())
        except Exception:  # not started yet, or tearing down: not connected either way
            return False

    async def store_ok(self) -> bool:
        try:
            await asyncio.wait_for(self._store_probe(), self._store_timeout)
        except Exception as error:
            if self._store_was_ok:  # log the change, not every probe
                log.warning("health: the database is not usable (%s)", type(error).__name__)
            self._store_was_ok = False
            return False
        if not self._store_was_ok:
            log.info("health: the database is usable again")
        self._store_was_ok = True
        return True

    async def check(self) -> HealthStatus:
        store_ok = await self.store_ok()
        return HealthStatus(connected=self.connected(), store_ok=store_ok, at=self._clock())


def write_health_file(path: Path, status: HealthStatus) -> None:
    """Replace ``path`` atomically, so a reader never sees half a file. Blocking: run in a
    thread."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(status.to_json())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


class HealthFileWriter:
    """Keeps HEALTH_FILE current while the bot runs, and removes it when the bot stops.

    The store is probed every ``interval`` seconds; the connection, which is a cheap
    in-memory check, every ``tick`` seconds, so a lost gateway shows up within a tick
    instead of waiting for the next full refresh.
    """

    def __init__(
        self,
        path: Path,
        probe: HealthProbe,
        *,
        interval: float = WRITE_INTERVAL,
        tick: float = 1.0,
    ) -> None:
        self.path = path
        self._probe = probe
        self._interval = interval
        self._tick = tick
        self._task: asyncio.Task[None] | None = None
        self._written = asyncio.Condition()
        self._write_failed = False
        self.latest: HealthStatus | None = None

    async def start(self) -> None:
        """Write the first status now (not connected yet, typically), then keep it fresh."""
        if self._task is not None:
            return
        await self._refresh()
        self._task = asyncio.create_task(self._run(), name="imagine-bot health file")

    async def stop(self) -> None:
        """Stop refreshing and remove the file: no stale "healthy" survives the process."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        with contextlib.suppress(OSError):
            await asyncio.to_thread(self.path.unlink, missing_ok=True)

    async def wait_for(self, predicate: Callable[[HealthStatus], bool]) -> HealthStatus:
        """The first written status matching ``predicate``; bound it with ``asyncio.timeout``."""
        async with self._written:
            await self._written.wait_for(lambda: self.latest is not None and predicate(self.latest))
            assert self.latest is not None
            return self.latest

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last_full = loop.time()
        while True:
            await asyncio.sleep(self._tick)
            latest = self.latest
            changed = latest is not None and self._probe.connected() != latest.connected
            if changed or loop.time() - last_full >= self._interval:
                await self._refresh()
                last_full = loop.time()

    async def _refresh(self) -> None:
        status = await self._probe.check()
        try:
            await asyncio.to_thread(write_health_file, self.path, status)
        except OSError as error:
            if not self._write_failed:
                log.warning("cannot write HEALTH_FILE %s: %s", self.path, error.strerror or error)
            self._write_failed = True
        else:
            self._write_failed = False
        async with self._written:
            self.latest = status
            self._written.notify_all()


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str


def judge_health_file(path: Path, *, now: float, max_age: float = MAX_AGE) -> Verdict:
    """Read the file the running bot writes and say, in one line, whether it is healthy."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Verdict(False, f"no health file at {path}: the bot is not running (yet)")
    except OSError as error:
        return Verdict(False, f"cannot read {path}: {error.strerror or error}")
    try:
        status = HealthStatus.from_json(text)
    except ValueError as error:
        return Verdict(False, f"{path} is not a health file ({error})")
    age = now - status.at
    if age > max_age:
        return Verdict(
            False, f"the health file is {age:.0f} s old (limit {max_age:.0f} s): the bot is stuck"
        )
    if age < -max_age:
        return Verdict(False, f"the health file is dated {-age:.0f} s in the future")
    if not status.healthy:
        return Verdict(False, "unhealthy: " + " and ".join(status.problems()))
    return Verdict(True, f"healthy: connected, database usable ({max(age, 0):.0f} s ago)")


def health_command(path: Path | None, *, now: float | None = None) -> int:
    """``imagine-bot health``: print one line; exit 0 if healthy, else 1 (Docker's meaning)."""
    if path is None:
        print("unhealthy: HEALTH_FILE is not set, so the bot writes no health file")
        return 1
    verdict = judge_health_file(path, now=time.time() if now is None else now)
    print(verdict.reason)
    return 0 if verdict.ok else 1
