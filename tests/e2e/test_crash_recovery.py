"""The bot process is killed with SIGKILL mid-job; the next process settles every job once.

This runs the real ``python -m bot`` as a child process against the emulators, so the
crash is a real one: no shutdown code runs, connections are cut, the database is left
as it was at the instant of death.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.store import MemberContext, SqliteStore
from bot.store.base import GenerationStatus
from tests.emulators.discord import DiscordEmulator, Guild, InteractionRecord
from tests.emulators.siraya import SirayaEmulator

pytestmark = pytest.mark.asyncio(loop_scope="module")
REPO = Path(__file__).resolve().parents[2]


class BotProcess:
    """``python -m bot`` in a child process, configured through its environment."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", cwd=REPO, env=self.env, stdout=log, stderr=log
        )
        log.close()

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def terminate(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), timeout=30)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest_asyncio.fixture(loop_scope="module")
async def emulators(tmp_path: Path) -> AsyncIterator[tuple[DiscordEmulator, SirayaEmulator, Guild]]:
    discord_emu = DiscordEmulator()
    guild = discord_emu.add_guild("Crash Test Server")
    guild.add_channel("general")
    api = SirayaEmulator()
    await api.start()
    await discord_emu.start()
    try:
        yield discord_emu, api, guild
    finally:
        api.release()
        await api.stop()
        await discord_emu.stop()


async def test_a_killed_bot_delivers_or_refunds_every_job_exactly_once_after_restart(
    emulators: tuple[DiscordEmulator, SirayaEmulator, Guild], tmp_path: Path
) -> None:
    discord_emu, api, guild = emulators
    general = guild.channel("general")
    database = tmp_path / "imagine.db"
    env = {
        **os.environ,
        "DISCORD_TOKEN": discord_emu.bot_token,
        "SIRAYA_API_KEY": api.api_key,
        "SIRAYA_BASE_URL": api.base_url,
        "DISCORD_API_BASE_URL": discord_emu.base_url,
        "DATABASE_URL": f"sqlite:///{database}",
        "COMMAND_GUILD_IDS": str(guild.id),
        "MAX_CONCURRENT_JOBS": "2",
        "LOG_LEVEL": "INFO",
        "PYTHONPATH": str(REPO),
    }
    bot = BotProcess(env, tmp_path / "bot.log")
    await bot.start()
    await discord_emu.wait_until_commands_synced(guild, timeout=30)

    api.hold()
    members = [guild.add_member(f"member{n}") for n in range(3)]
    jobs: list[InteractionRecord] = []
    for n, member in enumerate(members):
        it = await discord_emu.run_slash_command(
            member, general, "imagine", prompt=f"crash test {n}"
        )
        await it.acknowledged(timeout=10)
        jobs.append(it)
    await api.wait_for_requests(2, timeout=20)  # two are generating, one waits in line

    await bot.kill()
    api.release()
    await bot.start()
    for it in jobs:
        await it.wait_for_original(lambda m: bool(m.attachments), timeout=60)
    assert await bot.terminate() == 0, bot.log()  # SIGTERM is a clean, graceful exit

    results = [m for m in discord_emu.messages(general) if m.attachments]
    assert sorted(m.embeds[0]["description"] for m in results) == [
        f"crash test {n}" for n in range(3)
    ]
    store = await SqliteStore.open(database)
    try:
        records = await store.export_usage(guild.id, days=1)
        for member in members:
            usage = await store.usage(
                _member_context(guild.id, general.id, member.id), bot_default_limit=20
            )
            assert usage.used == 1
    finally:
        await store.close()
    assert [(r.status, r.delivered, r.reserved) for r in records] == [
        (GenerationStatus.SUCCEEDED, 1, 0)
    ] * 3
    assert discord_emu.interaction_failures == []


def _member_context(guild_id: int, channel_id: int, user_id: int) -> MemberContext:
    return MemberContext(guild_id=guild_id, channel_id=channel_id, user_id=user_id)
