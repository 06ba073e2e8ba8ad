"""If the acknowledgement itself fails — for any reason — the request is given back at once."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest

from bot.jobs.scheduler import FairScheduler
from bot.jobs.service import GenerationService
from bot.siraya import GenerationRequest, GenerationResult
from bot.store import MemberContext, SqliteStore
from cogs.common.flow import GenerationFlow


class NeverCalled:
    async def generate(self, request: GenerationRequest, **_: Any) -> GenerationResult:
        raise AssertionError("a request that was never acknowledged must not be generated")


class FailingResponse:
    def __init__(self, error: BaseException) -> None:
        self.error = error

    def is_done(self) -> bool:
        return False

    async def defer(self, **_: Any) -> None:
        raise self.error


def interaction(error: BaseException) -> Any:
    """Just enough of a discord.Interaction for the flow's first steps."""
    return SimpleNamespace(
        token="tok",
        created_at=datetime.now(UTC),
        guild_id=1,
        channel_id=2,
        channel=None,
        user=SimpleNamespace(id=3),
        locale="en-US",
        guild_locale="en-US",
        response=FailingResponse(error),
        extras={},  # discord.py's per-interaction dict (the acknowledgement deadline lives there)
        # A server install in a server channel (cogs/common/places.py reads these).
        is_guild_integration=lambda: True,
        context=SimpleNamespace(dm_channel=False),
    )


@pytest.mark.parametrize(
    "error", [aiohttp.ServerDisconnectedError(), TimeoutError(), OSError("reset")]
)
async def test_a_failed_acknowledgement_refunds_and_frees_the_slot(
    tmp_path: Path, error: BaseException
) -> None:
    store = await SqliteStore.open(tmp_path / "bot.db")
    scheduler = FairScheduler(1)
    service = GenerationService(
        NeverCalled(),
        store,
        scheduler,
        bot_default_limit=5,
        nsfw_safety_default=True,
        rng=random.Random(1),
    )
    try:
        await GenerationFlow(service).start(interaction(error), GenerationRequest(prompt="fox"))
        usage = await store.usage(
            MemberContext(guild_id=1, channel_id=2, user_id=3), bot_default_limit=5
        )
        assert usage.used == 0  # refunded
        assert await store.in_flight() == []  # nothing left to resume by mistake
        assert scheduler.running == 0  # the slot is free for the next member
    finally:
        await store.close()
