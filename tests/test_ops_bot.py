"""The real bot with HEALTH_FILE and METRICS_PORT set, as the Docker image runs it.

An owner's view: once the bot is in the server the healthcheck command passes and
``/ready`` answers 200; retries against a flaky image API show up in ``/metrics``;
when the bot stops, the health file is gone and the port is closed.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.harness import Harness, start_harness
from tests.emulators.siraya import Fault
from tests.test_ops_metrics import parse_exposition

WAIT = 20.0
TIMEOUT = aiohttp.ClientTimeout(total=15)
REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[Harness]:
    env = {
        "HEALTH_FILE": str(tmp_path / "run" / "imagine-bot.health"),
        "METRICS_PORT": str(free_port()),
        "METRICS_HOST": "127.0.0.1",
    }
    harness = await start_harness(tmp_path / "data", env)
    try:
        yield harness
    finally:
        await harness.close()


async def fetch(world: Harness, path: str) -> tuple[int, str]:
    url = f"http://127.0.0.1:{world.settings.metrics_port}{path}"
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session, session.get(url) as response:
        return response.status, await response.text()


async def health_command(health_file: Path) -> tuple[int, str]:
    """Run exactly what the Dockerfile's HEALTHCHECK runs, with the bot's environment."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "health",
        env={**os.environ, "HEALTH_FILE": str(health_file), "PYTHONPATH": str(REPO)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    async with asyncio.timeout(60):
        out, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_a_connected_bot_is_healthy_and_ready(world: Harness) -> None:
    bot = world.running_bot
    writer = bot.operations.health
    assert writer is not None
    async with asyncio.timeout(WAIT):
        await writer.wait_for(lambda status: status.healthy)
    code, out = await health_command(writer.path)
    assert (code, out.split(":")[0]) == (0, "healthy"), out
    assert await fetch(world, "/ready") == (200, "ready\n")


async def test_api_retries_reach_the_metrics(world: Harness) -> None:
    world.api.fail_next(Fault.status(503, retry_after=0))
    member = world.member("alice")
    it = await world.discord.run_slash_command(member, world.general, "imagine", prompt="a fox")
    await it.acknowledged(timeout=3)
    await it.wait_for_original(lambda m: bool(m.attachments), timeout=WAIT)
    status, body = await fetch(world, "/metrics")
    assert status == 200
    retries = parse_exposition(body)["imagine_api_retries_total"].samples[0][2]
    assert retries >= 1


async def test_a_stopped_bot_is_unhealthy_and_its_port_is_closed(world: Harness) -> None:
    writer = world.running_bot.operations.health
    assert writer is not None
    await world.stop_bot()
    code, out = await health_command(writer.path)
    assert code == 1 and "no health file" in out
    with pytest.raises(aiohttp.ClientConnectionError):
        await fetch(world, "/ready")


async def test_a_disconnected_bot_is_not_ready(world: Harness) -> None:
    bot = world.running_bot
    writer = bot.operations.health
    assert writer is not None
    async with asyncio.timeout(WAIT):
        await writer.wait_for(lambda status: status.healthy)
    shard = next(iter(bot.shards.values()))
    await shard.disconnect()  # what a dropped gateway connection looks like to the bot
    async with asyncio.timeout(WAIT):
        status = await writer.wait_for(lambda status: not status.connected)
    assert status.store_ok
    code, body = await fetch(world, "/ready")
    assert code == 503 and "not connected to Discord" in body
