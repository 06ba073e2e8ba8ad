"""Event-driven waiting on "something in the emulator changed".

Tests wait for things like "the original response has an attachment". Instead of
polling with sleeps, every change calls :meth:`ChangeSignal.notify` (a plain,
synchronous call, so state code needs no ``await``), and waiters re-check their
condition each time the signal fires.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """A test waited for something the bot never did. The message says what was seen."""


class ChangeSignal:
    """A broadcast "changed" notification that can be fired from synchronous code."""

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None

    def notify(self) -> None:
        if self._event is not None:
            self._event.set()
            self._event = None

    def _current(self) -> asyncio.Event:
        if self._event is None:
            self._event = asyncio.Event()
        return self._event

    async def wait_for(
        self,
        check: Callable[[], T | None],
        *,
        timeout: float,
        describe: Callable[[], str],
    ) -> T:
        """Return the first non-None result of ``check``, re-evaluated on every change.

        Raises :class:`WaitTimeout` with ``describe()`` in the message after ``timeout``
        real seconds, so a failing test explains what state it saw instead.
        """
        try:
            async with asyncio.timeout(timeout):
                while True:
                    # Take the event before checking so a change between the check
                    # and the wait cannot be missed.
                    event = self._current()
                    result = check()
                    if result is not None:
                        return result
                    await event.wait()
        except TimeoutError:
            raise WaitTimeout(f"timed out after {timeout:g}s: {describe()}") from None
