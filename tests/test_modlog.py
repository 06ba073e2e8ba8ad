"""The moderation log's memory: a pending entry holds what it posts, not the whole result."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import discord

from bot.jobs.service import Job
from bot.siraya import GenerationRequest
from bot.siraya.client import GeneratedImage
from bot.store.base import Store
from cogs.common.modlog import ModerationLog


def _held(coro: Any) -> list[object]:
    """What a not-yet-started coroutine holds: its arguments, and what they contain."""
    found: list[object] = []
    for value in coro.cr_frame.f_locals.values():
        found.append(value)
        if isinstance(value, list | tuple):
            found.extend(value)
            found.extend(getattr(item, "data", None) for item in value)
    return found


async def test_a_pending_entry_holds_only_the_first_image() -> None:
    log = ModerationLog(cast(discord.Client, object()), cast(Store, object()))
    images = [GeneratedImage(bytes([i]) * 4_000_000, "png", 2048, 2048) for i in range(4)]
    job = Job(
        generation_id=7,
        guild_id=1,
        channel_id=2,
        user_id=3,
        request=GenerationRequest("a fox", count=4),
        tickets=(),
        submitted_at=0.0,
    )
    result = cast(discord.Message, SimpleNamespace(id=9, channel=SimpleNamespace(id=2)))

    log.delivered(job, result, images)

    [task] = log._pending
    entry = task.get_coro().cr_frame.f_locals["work"]  # type: ignore[union-attr]
    held = _held(entry)
    assert any(value is images[0].data for value in held), "the thumbnail's source is kept"
    for other in images[1:]:
        assert not any(value is other.data or value is other for value in held)
    entry.close()  # never to be posted: there is no Discord here
    await log.close()
