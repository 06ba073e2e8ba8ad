"""``python -m bot`` (run) as an owner starts it: what its log says, and what it reports first.

The real process runs against the local emulators with its log going to a file, as
under systemd or ``docker logs``: no terminal, so no colour codes; no voice warnings
(the bot has no voice); one line at start and one at shutdown.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e.harness import Harness, start_harness

REPO = Path(__file__).resolve().parents[1]
WAIT = 30.0


def bot_env(world: Harness, **changes: str) -> dict[str, str]:
    """The harness's settings as environment variables, the way ``.env`` passes them."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("DISCORD_", "SIRAYA_", "DATABASE_", "METRICS_", "HEALTH_", "ENV_", "EVENT_LOOP")
        )
    }
    settings = world.settings
    return {
        **base,
        "DISCORD_TOKEN": settings.discord_token.reveal(),
        "SIRAYA_API_KEY": settings.siraya_api_key.reveal(),
        "SIRAYA_BASE_URL": settings.siraya_base_url,
        "DISCORD_API_BASE_URL": settings.discord_api_base_url,
        "DATABASE_URL": settings.database_url,
        "COMMAND_GUILD_IDS": str(world.guild.id),
        "PYTHONPATH": str(REPO),
        **changes,
    }


async def start_bot_process(
    world: Harness, log: Path, **changes: str
) -> asyncio.subprocess.Process:
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            cwd=log.parent,
            env=bot_env(world, **changes),
            stdout=out,
            stderr=out,
        )


async def stop(process: asyncio.subprocess.Process) -> int:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    async with asyncio.timeout(WAIT):
        return await process.wait()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[Harness]:
    harness = await start_harness(tmp_path / "data", start_bot=False)
    try:
        yield harness
    finally:
        await harness.close()


async def test_the_log_is_one_line_at_start_and_one_at_shutdown(
    world: Harness, tmp_path: Path
) -> None:
    log = tmp_path / "bot.log"
    process = await start_bot_process(world, log)
    try:
        await world.discord.wait_until_commands_synced(world.guild, timeout=WAIT)
        member = world.member("alice")
        it = await world.discord.run_slash_command(member, world.general, "imagine", prompt="fox")
        await it.wait_for_original(lambda m: bool(m.attachments), timeout=WAIT)
    finally:
        code = await stop(process)
    text = log.read_text()
    assert code == 0, text
    assert "voice" not in text.lower(), "the bot has no voice; discord.py's warning is noise"
    assert "\x1b[" not in text, "no colour codes when the log is not a terminal"
    starting = [line for line in text.splitlines() if "starting:" in line]
    assert len(starting) == 1, text
    assert "imagine-bot 0.1.0 starting: database sqlite, shards automatic" in starting[0]
    assert "personal use off" in starting[0], "every command is for servers only"
    if sys.platform == "linux":  # uvloop comes with the bot there; EVENT_LOOP=auto picks it
        assert starting[0].endswith("event loop uvloop"), starting[0]
    assert world.settings.discord_token.reveal() not in text
    assert world.settings.siraya_api_key.reveal() not in text
    stopped = [line for line in text.splitlines() if "stopped:" in line]
    assert len(stopped) == 1, text
    assert stopped[0].endswith(
        "stopped: 1 generation(s) finished while running, 0 stay queued for the next start"
    )
    assert "Shard ID" not in text and "logging in using static token" not in text


def closed_port_url(path: str) -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


async def test_a_bad_database_is_reported_before_discord_is_tried(
    world: Harness, tmp_path: Path
) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    log = tmp_path / "bot.log"
    process = await start_bot_process(
        world,
        log,
        DATABASE_URL=f"sqlite:///{not_a_folder}/imagine.db",
        DISCORD_API_BASE_URL=closed_port_url("/api/v10"),  # Discord is unreachable as well
    )
    async with asyncio.timeout(WAIT):
        code = await process.wait()
    text = log.read_text()
    assert code == 2, text
    assert "cannot open the database at DATABASE_URL" in text
    assert "cannot reach Discord" not in text


def test_the_start_line_says_when_commands_reach_beyond_servers() -> None:
    from types import SimpleNamespace

    from discord import app_commands

    from bot.app import personal_use

    servers_only = SimpleNamespace(allowed_installs=None, allowed_contexts=None)
    user_install = SimpleNamespace(
        allowed_installs=app_commands.AppInstallationType(guild=True, user=True),
        allowed_contexts=None,
    )
    in_dms = SimpleNamespace(
        allowed_installs=None, allowed_contexts=app_commands.AppCommandContext(dm_channel=True)
    )
    assert not personal_use([servers_only])
    assert personal_use([servers_only, user_install]) and personal_use([in_dms])
