"""Discord snowflake ids: 42 bits of milliseconds since 2015, then worker, process, counter.

Real ids matter because discord.py derives ``created_at`` from them and sharding
routes a guild by ``(guild_id >> 22) % shard_count``.
"""

from __future__ import annotations

import datetime as dt

from tests.emulators.discord.clock import EmulatorClock

DISCORD_EPOCH_MS = 1_420_070_400_000


class SnowflakeFactory:
    """Mints strictly increasing snowflakes stamped with the emulator's wall clock."""

    def __init__(self, clock: EmulatorClock, *, worker_id: int = 1, process_id: int = 0) -> None:
        self._clock = clock
        self._worker = worker_id & 0x1F
        self._process = process_id & 0x1F
        self._last = 0

    def next(self) -> int:
        ms = int(self._clock.wall() * 1000) - DISCORD_EPOCH_MS
        candidate = (ms << 22) | (self._worker << 17) | (self._process << 12)
        # Several ids in one millisecond (or a clock that moved back after a
        # restart) still have to increase: bump the counter bits.
        value = max(candidate, self._last + 1)
        self._last = value
        return value


def snowflake_time(snowflake: int) -> dt.datetime:
    """When a snowflake was minted, as an aware UTC datetime."""
    ms = (snowflake >> 22) + DISCORD_EPOCH_MS
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


def iso_timestamp(unix_seconds: float) -> str:
    """Discord's ISO-8601 timestamp format (``2024-01-01T12:00:00.000000+00:00``)."""
    return dt.datetime.fromtimestamp(unix_seconds, tz=dt.UTC).isoformat(timespec="microseconds")
