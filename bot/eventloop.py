"""Which event loop the bot runs on: uvloop where it is installed on Linux, else asyncio's.

uvloop (libuv under asyncio's interface) runs the same coroutines with less CPU per
callback, socket read and timer: with everything else equal it cut the bot's CPU per
image by about 6 % under a burst (docs/benchmarks.md). It is a dependency on Linux only
(``pyproject.toml``); elsewhere, or with ``EVENT_LOOP=asyncio``, the standard loop runs,
and nothing in the bot depends on which one it is.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import Callable

from bot.config import EventLoop

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def uvloop_available() -> bool:
    return importlib.util.find_spec("uvloop") is not None


def chosen(setting: EventLoop, *, platform: str = sys.platform) -> EventLoop:
    """``auto`` resolved: uvloop on Linux when it is installed, else asyncio's loop."""
    if setting is EventLoop.AUTO:
        return EventLoop.UVLOOP if platform == "linux" and uvloop_available() else EventLoop.ASYNCIO
    return setting


def loop_factory(setting: EventLoop) -> LoopFactory:
    """What ``asyncio.Runner`` builds the bot's loop with (the setting checked it imports).

    With ``auto``, a uvloop that is installed but does not import (a virtual environment
    copied to another machine, a broken build) means the standard loop, as if it were not
    there; only ``EVENT_LOOP=uvloop`` insists on it.
    """
    if chosen(setting) is EventLoop.UVLOOP:
        try:
            import uvloop
        except ImportError:
            if setting is not EventLoop.AUTO:
                raise
            return asyncio.new_event_loop
        return uvloop.new_event_loop
    return asyncio.new_event_loop


def running_loop_name() -> str:
    """``uvloop`` or ``asyncio``: the loop this coroutine runs on (for the start line)."""
    loop = asyncio.get_running_loop()
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"
