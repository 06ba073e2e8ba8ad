"""One running world per test module: starting Discord, the API and the bot takes ~0.2 s."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.e2e.harness import Harness, start_harness


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    harness = await start_harness(tmp_path_factory.mktemp("bot"))
    try:
        yield harness
    finally:
        await harness.close()


@pytest.fixture(autouse=True)
def fresh_records(request: pytest.FixtureRequest) -> None:
    """Each test judges only the requests made during it, and starts with a healthy API."""
    if "world" not in request.fixturenames:
        return
    harness: Harness = request.getfixturevalue("world")
    harness.discord.clear_records()
    harness.api.latency = 0.0
