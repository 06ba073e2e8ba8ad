"""The image API never answers: the member is told it took too long, and is refunded.

This needs its own bot, with a short API deadline, so it lives in its own module
(the harness points discord.py at one emulator per process at a time).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.e2e.harness import Harness, start_harness
from tests.emulators.siraya import Fault

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def impatient(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    """A bot that gives the API one second per generation.

    ``SIRAYA_TIMEOUT_SECONDS`` cannot go below 5 s in ``.env`` (a real generation takes
    that long); the deadline logic is the same at 1 s, so the test sets it directly.
    """
    harness = await start_harness(tmp_path_factory.mktemp("impatient"), start_bot=False)
    harness.settings = dataclasses.replace(harness.settings, siraya_timeout_seconds=1.0)
    try:
        await harness.start_bot()
        yield harness
    finally:
        await harness.close()


async def test_an_api_that_never_answers_times_out_with_a_message(impatient: Harness) -> None:
    member = impatient.member("patient")
    impatient.api.fail_next(Fault.hang())
    it = await impatient.discord.run_slash_command(
        member, impatient.general, "imagine", prompt="a red fox"
    )
    await it.acknowledged(timeout=3)
    message = await it.wait_for_followup(lambda m: "not charged" in m.content, timeout=15)
    assert "took too long to answer" in message.content
    assert message.ephemeral, "told privately; the public progress line is gone"
    assert not message.attachments and not message.embeds
    assert it.original is not None and it.original.deleted
    assert any("Generating" in v.content for v in [*it.original.history, it.original]), (
        "progress was shown first"
    )
    assert await impatient.used_today(member) == 0
    assert impatient.discord.interaction_failures == []
    impatient.discord.assert_no_errors()
