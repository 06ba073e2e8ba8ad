"""Routes that stall: a request held without an answer, as a hung connection or a lost
answer looks to the client.

``emu.stall("PATCH /api/v10/webhooks", count=1)`` holds the next matching request open
and never applies it; with ``after_handling=True`` the request takes effect first and
only its answer never comes (the change is visible, the client cannot know). A held
request stays open until the test calls :meth:`Stalls.release` or the emulator stops;
then it is answered 503 if it was never applied, normally if it was.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from tests.emulators.discord.signals import ChangeSignal


@dataclass
class Stall:
    route_substring: str
    remaining: int
    after_handling: bool


@dataclass
class Stalls:
    rules: list[Stall] = field(default_factory=list)
    #: "METHOD /path" of every request held so far (tokens redacted), in order.
    held: list[str] = field(default_factory=list)
    changed: ChangeSignal = field(default_factory=ChangeSignal)
    _released: asyncio.Event | None = None

    def add(self, route_substring: str, *, count: int, after_handling: bool) -> None:
        self.rules.append(Stall(route_substring, count, after_handling))

    def take(self, method: str, path: str) -> Stall | None:
        line = f"{method} {path}"
        for rule in self.rules:
            if rule.remaining > 0 and rule.route_substring in line:
                rule.remaining -= 1
                return rule
        return None

    async def hold(self, line: str) -> None:
        """Keep the request open until released (the client usually gives up first)."""
        if self._released is None:
            self._released = asyncio.Event()
        released = self._released
        self.held.append(line)
        self.changed.notify()
        await released.wait()

    def release(self) -> None:
        """Answer every held request now, and stall nothing more."""
        self.rules.clear()
        if self._released is not None:
            self._released.set()
            self._released = None

    async def wait_for_held(self, count: int, *, timeout: float) -> None:
        await self.changed.wait_for(
            lambda: True if len(self.held) >= count else None,
            timeout=timeout,
            describe=lambda: f"{len(self.held)} request(s) held: {self.held}",
        )
