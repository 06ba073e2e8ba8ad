"""A hostile image service: crafted files and foreign addresses never reach the member.

Through the real discord.py client: the member reads that the answer was not a usable
image and is not charged; the owner's log names the refused host (never the URL's path
or query, which can carry the provider's tokens). Nothing is decoded that could blow up
the host's memory.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.harness import Harness, start_harness
from tests.e2e.test_imagine_failures import UNUSABLE, assert_told_and_refunded, failed_request
from tests.emulators import crafted
from tests.emulators.siraya import Fault

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.mark.parametrize(
    ("fault", "refused_host"),
    [
        pytest.param(lambda port: Fault.crafted(crafted.pixel_bomb()), None, id="pixel-bomb"),
        pytest.param(
            lambda port: Fault.crafted(crafted.wrong_size(640, 480)), None, id="wrong-size"
        ),
        pytest.param(lambda port: Fault.crafted(crafted.text_bomb(512, 512)), None, id="text-bomb"),
        pytest.param(
            lambda port: Fault.crafted(crafted.cut_pixels(512, 512)), None, id="cut-short"
        ),
        pytest.param(lambda port: Fault.many_entries(5000), None, id="absurd-answer"),
        pytest.param(
            lambda port: Fault.image_at(f"http://localhost:{port}"), "localhost", id="foreign-host"
        ),
        pytest.param(
            lambda port: Fault.redirect(f"http://localhost:{port}"), "localhost", id="redirect-off"
        ),
        pytest.param(
            lambda port: Fault.image_at(f"http://owner:hunter2@127.0.0.1:{port}"),
            "127.0.0.1",
            id="credentials-in-url",
        ),
    ],
)
async def test_a_hostile_answer_is_not_a_usable_image_and_is_refunded(
    world: Harness,
    fault: Callable[[int], Fault],
    refused_host: str | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    member = world.member("target")
    world.api.fail_next(fault(world.api.port), fault(world.api.port))  # a request per image
    downloads = world.api.image_downloads
    with caplog.at_level(logging.WARNING):
        _, message = await failed_request(world, member, count=2, size="square")
    await assert_told_and_refunded(world, member, message, UNUSABLE)
    assert not [r for r in caplog.records if r.exc_info], "no traceback: an expected refusal"
    assert "hunter2" not in caplog.text
    if refused_host is not None:  # the owner learns which host, and only that
        [line, *_] = [
            r.getMessage() for r in caplog.records if "Refused to download" in r.getMessage()
        ]
        assert f"from {refused_host}:" in line
        assert "/image/" not in line and "siraya_" not in line
        assert world.api.image_downloads == downloads, "nothing was fetched from it"


async def test_the_owner_can_allow_another_image_host(tmp_path: Path) -> None:
    harness = await start_harness(tmp_path, start_bot=False)
    try:
        port = harness.api.port
        harness.settings = dataclasses.replace(
            harness.settings, siraya_image_hosts=(f"localhost:{port}",)
        )
        await harness.start_bot()
        member = harness.member("cdn")
        harness.api.fail_next(Fault.image_at(f"http://localhost:{port}"))
        it = await harness.discord.run_slash_command(
            member, harness.general, "imagine", prompt="a lighthouse", size="square"
        )
        message = await it.wait_for_original(lambda m: bool(m.attachments), timeout=15)
        assert (message.attachments[0].width, message.attachments[0].height) == (512, 512)
        assert harness.api.download_headers[-1]["Host"] == f"localhost:{port}"
        assert await harness.used_today(member) == 1
        harness.discord.assert_no_errors()
    finally:
        await harness.close()
