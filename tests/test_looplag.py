"""The loop-lag monitor reports a stall that blocks the event loop."""

from __future__ import annotations

import asyncio
import time

from bot.looplag import LoopLagMonitor


async def test_a_blocking_call_shows_up_as_lag() -> None:
    seen: list[float] = []
    recorded = asyncio.Event()

    def record(seconds: float) -> None:
        seen.append(seconds)
        if seconds >= 0.05:
            recorded.set()

    monitor = LoopLagMonitor(record, interval=0.001)
    monitor.start()
    try:
        await asyncio.sleep(0)  # let the monitor set its first timer
        time.sleep(0.06)  # noqa: ASYNC251 - the blocking call the monitor exists to catch
        await asyncio.wait_for(recorded.wait(), timeout=5)
    finally:
        await monitor.stop()
    assert max(seen) >= 0.05
