"""An owner starts the bot with a wrong token: one clear line, not a traceback."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.e2e.harness import Harness

pytestmark = pytest.mark.asyncio(loop_scope="module")

REPO_ROOT = Path(__file__).resolve().parents[2]
OWNER_SETTINGS = ("DISCORD_", "SIRAYA_", "DATABASE_URL", "COMMAND_GUILD_IDS", "LOG_LEVEL")


async def test_a_wrong_token_fails_fast_with_one_clear_line(world: Harness, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(OWNER_SETTINGS)}
    env.update(
        PYTHONPATH=str(REPO_ROOT),  # the bot from this checkout, as the tests see it
        DISCORD_TOKEN="MTIzNDU2Nzg5MDEyMzQ1Njc4.Gabcde.not-the-real-token",
        SIRAYA_API_KEY="some-key",
        SIRAYA_BASE_URL=world.api.base_url,
        DISCORD_API_BASE_URL=world.discord.base_url,
        DATABASE_URL=f"sqlite:///{tmp_path / 'imagine.db'}",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=tmp_path,  # no .env here: only the environment above counts
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    lines = [line for line in stderr.decode().splitlines() if line.strip()]
    assert process.returncode == 2, stderr.decode()
    assert "Traceback" not in stderr.decode()
    problem = [line for line in lines if line.startswith("imagine-bot:")]
    assert len(problem) == 1, lines
    assert "DISCORD_TOKEN" in problem[0]
    assert "not-the-real-token" not in stderr.decode() + stdout.decode(), "the token is secret"
    assert any(r.path == "/api/v10/users/@me" and r.status == 401 for r in world.discord.requests)
