"""Health: the file the running bot keeps fresh and the verdict ``imagine-bot health`` gives.

Docker runs the healthcheck command; what it prints lands in ``docker inspect`` and its
exit status decides whether the container is marked unhealthy (and restarted by an
orchestrator), so both are asserted here.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from pathlib import Path

import pytest

from bot.health import (
    MAX_AGE,
    HealthFileWriter,
    HealthProbe,
    HealthStatus,
    gateway_connected,
    health_command,
    judge_health_file,
    write_health_file,
)

NOW = 1_750_000_000.0
WAIT = 15.0


def healthy_file(
    path: Path, *, at: float = NOW, connected: bool = True, store_ok: bool = True
) -> Path:
    write_health_file(path, HealthStatus(connected=connected, store_ok=store_ok, at=at))
    return path


# -- the verdict ------------------------------------------------------------------------------


def test_a_fresh_healthy_file_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = healthy_file(tmp_path / "health", at=NOW - 10)
    assert health_command(path, now=NOW) == 0
    assert capsys.readouterr().out.startswith("healthy")


@pytest.mark.parametrize(
    ("connected", "store_ok", "says"),
    [
        (False, True, "not connected to Discord"),
        (True, False, "the database is not usable"),
        (False, False, "not connected to Discord and the database is not usable"),
    ],
)
def test_an_unhealthy_file_fails_and_says_why(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    connected: bool,
    store_ok: bool,
    says: str,
) -> None:
    path = healthy_file(tmp_path / "health", connected=connected, store_ok=store_ok)
    assert health_command(path, now=NOW) == 1
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and says in out


def test_a_stale_file_fails_even_if_it_said_healthy(tmp_path: Path) -> None:
    path = healthy_file(tmp_path / "health", at=NOW - MAX_AGE - 1)
    verdict = judge_health_file(path, now=NOW)
    assert not verdict.ok and "old" in verdict.reason
    assert judge_health_file(path, now=NOW - 2).ok  # the same file, read in time


def test_a_missing_file_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert health_command(tmp_path / "absent", now=NOW) == 1
    assert "no health file" in capsys.readouterr().out


def test_health_file_off_fails_with_the_reason(capsys: pytest.CaptureFixture[str]) -> None:
    assert health_command(None, now=NOW) == 1
    assert "HEALTH_FILE is not set" in capsys.readouterr().out


@pytest.mark.parametrize(
    "content",
    ["", "{", "[]", '{"connected": "yes", "store_ok": true, "at": 1}', '{"connected": true}'],
)
def test_a_corrupt_file_fails(tmp_path: Path, content: str) -> None:
    path = tmp_path / "health"
    path.write_text(content)
    verdict = judge_health_file(path, now=NOW)
    assert not verdict.ok and "not a health file" in verdict.reason


def test_a_file_from_the_future_fails(tmp_path: Path) -> None:
    path = healthy_file(tmp_path / "health", at=NOW + 10 * MAX_AGE)
    assert not judge_health_file(path, now=NOW).ok


def test_the_file_is_the_documented_json(tmp_path: Path) -> None:
    path = healthy_file(tmp_path / "nested" / "health", at=NOW)
    assert json.loads(path.read_text()) == {"connected": True, "store_ok": True, "at": NOW}
    assert [p.name for p in path.parent.iterdir()] == ["health"], "no temporary files left"


# -- is the gateway connected? ----------------------------------------------------------------


class FakeShard:
    def __init__(self, closed: bool) -> None:
        self.closed = closed

    def is_closed(self) -> bool:
        return self.closed


class FakeClient:
    def __init__(self, *, ready: bool = True, closed: bool = False, shards: int = 2) -> None:
        self.ready = ready
        self.closed = closed
        self.shard_list = {i: FakeShard(False) for i in range(shards)}

    def is_ready(self) -> bool:
        return self.ready

    def is_closed(self) -> bool:
        return self.closed

    @property
    def shards(self) -> Mapping[int, FakeShard]:
        return self.shard_list


def test_connected_needs_ready_open_and_every_shard_up() -> None:
    client = FakeClient()
    assert gateway_connected(client)
    client.shard_list[1].closed = True  # reconnecting: is_ready() stays true meanwhile
    assert not gateway_connected(client)
    assert not gateway_connected(FakeClient(ready=False))
    assert not gateway_connected(FakeClient(closed=True))
    assert not gateway_connected(FakeClient(shards=0))


# -- probing ----------------------------------------------------------------------------------


async def _ok() -> None:
    return None


async def test_a_store_that_fails_or_hangs_is_not_usable(caplog: pytest.LogCaptureFixture) -> None:
    async def broken() -> None:
        raise RuntimeError("database is locked")

    async def hangs() -> None:
        await asyncio.Event().wait()

    assert (await HealthProbe(lambda: True, _ok, clock=lambda: NOW).check()) == HealthStatus(
        True, True, NOW
    )
    with caplog.at_level(logging.WARNING, logger="bot.health"):
        status = await HealthProbe(lambda: True, broken).check()
    assert status.connected and not status.store_ok
    assert "database is not usable" in caplog.text
    status = await HealthProbe(lambda: True, hangs, store_timeout=0.01).check()
    assert not status.store_ok


async def test_a_connected_check_that_raises_means_not_connected() -> None:
    def not_started() -> bool:
        raise AttributeError("shards")

    assert not (await HealthProbe(not_started, _ok).check()).connected


# -- the writer -------------------------------------------------------------------------------


async def test_the_writer_keeps_the_file_current_and_removes_it_on_stop(tmp_path: Path) -> None:
    path = tmp_path / "health"
    connected = False
    writer = HealthFileWriter(path, HealthProbe(lambda: connected, _ok), interval=3600, tick=0.01)
    await writer.start()
    try:
        assert writer.latest is not None  # written before start() returned
        assert "not connected" in judge_health_file(path, now=writer.latest.at).reason
        connected = True  # the gateway came up: the file follows within a tick, not an interval
        async with asyncio.timeout(WAIT):
            status = await writer.wait_for(lambda s: s.connected)
        verdict = judge_health_file(path, now=status.at)
        assert verdict.ok, verdict.reason
    finally:
        await writer.stop()
    assert not path.exists(), "a stopped bot leaves no file that could read as healthy"
    await writer.stop()  # idempotent


async def test_the_writer_refreshes_on_its_interval(tmp_path: Path) -> None:
    path = tmp_path / "health"
    clock = iter(range(1, 1_000_000))
    probe = HealthProbe(lambda: True, _ok, clock=lambda: float(next(clock)))
    writer = HealthFileWriter(path, probe, interval=0.02, tick=0.01)
    await writer.start()
    try:
        first = writer.latest
        assert first is not None
        async with asyncio.timeout(WAIT):
            later = await writer.wait_for(lambda s: s.at > first.at)
        assert HealthStatus.from_json(path.read_text()).at >= later.at
    finally:
        await writer.stop()


async def test_an_unwritable_health_file_is_logged_once_and_does_not_stop_the_bot(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    clock = iter(range(1, 1_000_000))
    probe = HealthProbe(lambda: True, _ok, clock=lambda: float(next(clock)))
    writer = HealthFileWriter(blocker / "health", probe, interval=0.01, tick=0.01)
    with caplog.at_level(logging.WARNING, logger="bot.health"):
        await writer.start()
        async with asyncio.timeout(WAIT):
            await writer.wait_for(lambda s: s.at >= 3)  # three failed writes
        await writer.stop()
    assert caplog.text.count("cannot write HEALTH_FILE") == 1
