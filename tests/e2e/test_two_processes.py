"""Two bot processes, one shard each, on one PostgreSQL database: limits hold across them,
and every job is run and delivered by exactly one process.

Real ``python -m bot`` child processes with SHARD_COUNT=2 and their own SHARD_IDS; each
serves the server its shard owns. Needs TEST_POSTGRES_URL (CI sets it).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from tests.emulators.discord import Channel, DiscordEmulator, Guild, InteractionRecord
from tests.emulators.siraya import SirayaEmulator
from tests.extras import require_asyncpg

pytestmark = pytest.mark.asyncio(loop_scope="module")
REPO = Path(__file__).resolve().parents[2]
POSTGRES = os.environ.get("TEST_POSTGRES_URL")


def guild_id_on_shard(shard: int, shards: int, offset: int) -> int:
    """A snowflake whose server lands on ``shard``: Discord routes by (id >> 22) % shards."""
    timestamp = 1_000_000_000_000 + offset * shards + shard
    return (timestamp << 22) | 1


@dataclass
class Deployment:
    discord: DiscordEmulator
    api: SirayaEmulator
    guilds: tuple[Guild, Guild]
    channels: tuple[Channel, Channel]
    env: dict[str, str]
    logs: Path

    async def start_process(self, shard: int) -> asyncio.subprocess.Process:
        log = (self.logs / f"shard{shard}.log").open("ab")
        try:
            return await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                cwd=REPO,
                env={**self.env, "SHARD_IDS": str(shard)},
                stdout=log,
                stderr=log,
            )
        finally:
            log.close()


@pytest_asyncio.fixture(loop_scope="module")
async def deployment(tmp_path: Path) -> AsyncIterator[Deployment]:
    if not POSTGRES:
        pytest.skip("TEST_POSTGRES_URL not set: the two-process test needs PostgreSQL")
    asyncpg = require_asyncpg()

    schema = f"two_processes_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(POSTGRES)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    discord_emu = DiscordEmulator(shards=2)
    guilds = (
        discord_emu.add_guild("Shard zero", guild_id=guild_id_on_shard(0, 2, 1)),
        discord_emu.add_guild("Shard one", guild_id=guild_id_on_shard(1, 2, 1)),
    )
    channels = (guilds[0].add_channel("general"), guilds[1].add_channel("general"))
    api = SirayaEmulator()
    await api.start()
    await discord_emu.start()
    separator = "&" if "?" in POSTGRES else "?"
    env = {
        **os.environ,
        "DISCORD_TOKEN": discord_emu.bot_token,
        "SIRAYA_API_KEY": api.api_key,
        "SIRAYA_BASE_URL": api.base_url,
        "DISCORD_API_BASE_URL": discord_emu.base_url,
        "DATABASE_URL": f"{POSTGRES}{separator}search_path={schema}",
        "COMMAND_GUILD_IDS": f"{guilds[0].id},{guilds[1].id}",
        "SHARD_COUNT": "2",
        "QUEUE_LIMIT": "3",
        "PYTHONPATH": str(REPO),
    }
    try:
        yield Deployment(discord_emu, api, guilds, channels, env, tmp_path)
    finally:
        api.release()
        await api.stop()
        await discord_emu.stop()
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()


async def test_two_shard_processes_share_limits_and_run_each_job_once(
    deployment: Deployment,
) -> None:
    emu, api = deployment.discord, deployment.api
    first = await deployment.start_process(0)
    await emu.wait_until_commands_synced(deployment.guilds[0], timeout=60)
    second = await deployment.start_process(1)
    await emu.wait_for_gateway(2, timeout=60)
    try:
        api.hold()
        # Two members in each server ask at once; the whole queue holds three.
        attempts: list[InteractionRecord] = await asyncio.gather(
            *(
                emu.run_slash_command(
                    guild.add_member(f"member{n}"), channel, "imagine", prompt=f"{guild.name} {n}"
                )
                for guild, channel in zip(deployment.guilds, deployment.channels, strict=True)
                for n in range(2)
            )
        )
        for it in attempts:
            await it.acknowledged(timeout=20)
        accepted = [it for it in attempts if not it.ephemeral]
        refused = [it for it in attempts if it.ephemeral]
        assert len(accepted) == 3 and len(refused) == 1
        refusal = await refused[0].wait_for_original(timeout=20)
        assert "very busy" in refusal.content
        served = {it.payload["guild_id"] for it in accepted}
        assert len(served) == 2  # both processes took work

        await api.wait_for_requests(3, timeout=30)
        third = await deployment.start_process(0)  # a newcomer must not steal live jobs
        api.release()
        for it in accepted:
            await it.wait_for_original(lambda m: bool(m.attachments), timeout=60)
        third.send_signal(signal.SIGTERM)
        await asyncio.wait_for(third.wait(), timeout=30)
        prompts = [request.json["prompt"] for request in api.requests]
        assert sorted(prompts) == sorted(
            it.payload["data"]["options"][0]["value"] for it in accepted
        )  # each job generated once: nobody ran another process's job
        for channel in deployment.channels:
            results = [m for m in emu.messages(channel) if m.attachments]
            assert len({m.embeds[0]["description"] for m in results}) == len(results)
        assert emu.interaction_failures == []
    finally:
        for process in (first, second):
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        for process in (first, second):
            assert await asyncio.wait_for(process.wait(), timeout=30) == 0
