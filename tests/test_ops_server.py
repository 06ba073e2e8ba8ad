"""The metrics port: what Prometheus and a load balancer's readiness probe see."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.health import HealthProbe
from bot.metrics import Metrics
from bot.ops import Operations, OperationsError
from tests.test_ops_metrics import parse_exposition

TIMEOUT = aiohttp.ClientTimeout(total=15)


async def _nothing() -> None:
    return None


class Switches:
    """What the fake bot reports: flip these to change readiness."""

    def __init__(self) -> None:
        self.connected = True
        self.store_ok = True
        self.retries = 0

    async def probe_store(self) -> None:
        if not self.store_ok:
            raise ConnectionError("database gone")


@pytest.fixture
async def ops(tmp_path: Path) -> AsyncIterator[tuple[Operations, Switches, Metrics]]:
    switches = Switches()
    registry = Metrics()
    operations = Operations(
        HealthProbe(lambda: switches.connected, switches.probe_store),
        health_file=tmp_path / "health",
        metrics_port=0,
        metrics_host="127.0.0.1",
        api_retries=lambda: switches.retries,
        registry=registry,
    )
    await operations.start()
    try:
        yield operations, switches, registry
    finally:
        await operations.stop()


async def get(operations: Operations, path: str) -> tuple[int, str, str]:
    url = f"http://127.0.0.1:{operations.port}{path}"
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session, session.get(url) as response:
        return response.status, response.headers.get("Content-Type", ""), await response.text()


async def test_ready_is_200_only_when_connected_with_a_usable_store(
    ops: tuple[Operations, Switches, Metrics],
) -> None:
    operations, switches, _ = ops
    assert (await get(operations, "/ready"))[::2] == (200, "ready\n")
    switches.connected = False
    status, _, body = await get(operations, "/ready")
    assert status == 503 and "not connected to Discord" in body
    switches.connected, switches.store_ok = True, False
    status, _, body = await get(operations, "/ready")
    assert status == 503 and "database is not usable" in body


async def test_metrics_are_served_in_the_prometheus_text_format(
    ops: tuple[Operations, Switches, Metrics],
) -> None:
    operations, switches, registry = ops
    registry.generation_finished("succeeded", None, 3.0)
    switches.retries = 4
    status, content_type, body = await get(operations, "/metrics")
    assert status == 200
    assert content_type.startswith("text/plain") and "version=0.0.4" in content_type
    families = parse_exposition(body)
    assert families["imagine_generations_total"].samples[0][2] == 1
    assert families["imagine_api_retries_total"].samples[0][2] == 4
    assert (await get(operations, "/nothing-here"))[0] == 404


async def test_stopping_closes_the_port_removes_the_file_and_keeps_the_retry_total(
    tmp_path: Path, ops: tuple[Operations, Switches, Metrics]
) -> None:
    operations, switches, registry = ops
    port = operations.port
    assert (tmp_path / "health").exists()
    switches.retries = 2
    await operations.stop()
    await operations.stop()  # idempotent
    assert not (tmp_path / "health").exists()
    assert registry.api_retries == 2
    with pytest.raises(aiohttp.ClientConnectionError):
        async with (
            aiohttp.ClientSession(timeout=TIMEOUT) as session,
            session.get(f"http://127.0.0.1:{port}/ready"),
        ):
            pass


async def test_a_taken_port_is_one_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        operations = Operations(
            HealthProbe(lambda: True, _nothing),
            metrics_port=port,
            metrics_host="127.0.0.1",
            registry=Metrics(),
        )
        with pytest.raises(OperationsError, match=rf"127\.0\.0\.1:{port} \(METRICS_PORT\)"):
            await operations.start()
        await operations.stop()


async def test_nothing_is_started_when_nothing_is_configured() -> None:
    operations = Operations(HealthProbe(lambda: True, _nothing), registry=Metrics())
    await operations.start()
    assert operations.port is None and operations.health is None
    await operations.stop()
