"""Watch the event loop for stalls: everything the bot does, acknowledgements first, waits on it.

A timer is set for every ``interval``; how late it fires is time the loop spent on
something else (a blocking call, a long computation). The lateness goes to the
``imagine_event_loop_lag_seconds`` histogram, so an owner sees a stall before members
see "This interaction failed".
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from bot import metrics


class LoopLagMonitor:
    def __init__(
        self, record: Callable[[float], None] = metrics.loop_lag, *, interval: float = 0.1
    ) -> None:
        self._record = record
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="loop-lag")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(self._interval)
            self._record(max(0.0, loop.time() - started - self._interval))
