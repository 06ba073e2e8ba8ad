"""Shared fixtures for the core tests: a fresh SQLite store per test, fixed clock values."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.store import GenerationParams, MemberContext, SqliteStore

GUILD = 1000
CHANNEL = 2000
ALICE = 3001
BOB = 3002
MOD = 9999
NOON = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)


def member(user_id: int = ALICE, *roles: int, guild_id: int = GUILD) -> MemberContext:
    return MemberContext(guild_id=guild_id, channel_id=CHANNEL, user_id=user_id, role_ids=roles)


def params(count: int = 1, prompt: str = "a cute baby sea otter") -> GenerationParams:
    return GenerationParams(
        prompt=prompt,
        width=1024,
        height=768,
        size_preset="landscape_4_3",
        steps=28,
        guidance=4.5,
        acceleration="regular",
        seed=1234567,
        safety_checker=True,
        count=count,
    )


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "bot.db"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[SqliteStore]:
    opened = await SqliteStore.open(db_path)
    try:
        yield opened
    finally:
        await opened.close()
