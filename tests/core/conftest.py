"""Shared fixtures for the core tests: a fresh store per test on every backend, fixed clocks.

``store`` is parametrized over SQLite and PostgreSQL (test ids ``[sqlite]`` and
``[postgres]``), so every test that asks for it proves the behaviour on both. The
PostgreSQL half needs a server: ``TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test``;
without it those tests are skipped with that reason. Each PostgreSQL test gets its own
throwaway schema, dropped afterwards, so tests never see each other's rows.

Tests that need a second store on the same database (a restart, a second process) ask
for ``backend`` and call ``await backend.open()``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.policy.spend import Price
from bot.store import GenerationParams, MemberContext, SqliteStore, Store
from tests.extras import require_asyncpg

GUILD = 1000
CHANNEL = 2000
ALICE = 3001
BOB = 3002
MOD = 9999
NOON = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)

POSTGRES_SKIP_REASON = "TEST_POSTGRES_URL not set: PostgreSQL store tests skipped"


def member(user_id: int = ALICE, *roles: int, guild_id: int = GUILD) -> MemberContext:
    return MemberContext(guild_id=guild_id, channel_id=CHANNEL, user_id=user_id, role_ids=roles)


def params(
    count: int = 1,
    prompt: str = "a cute baby sea otter",
    *,
    width: int = 1024,
    height: int = 768,
) -> GenerationParams:
    return GenerationParams(
        prompt=prompt,
        width=width,
        height=height,
        size_preset="landscape_4_3",
        steps=28,
        guidance=4.5,
        acceleration="regular",
        seed=1234567,
        safety_checker=True,
        count=count,
    )


def postgres_url() -> str:
    """The test server's URL, or skip the calling test with a visible reason."""
    url = os.environ.get("TEST_POSTGRES_URL", "").strip()
    if not url:
        pytest.skip(POSTGRES_SKIP_REASON)
    require_asyncpg()
    return url


@contextlib.asynccontextmanager
async def fresh_schema(url: str) -> AsyncIterator[str]:
    """A new empty schema for one test, dropped with everything in it afterwards."""
    import asyncpg

    name = f"t_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(url, timeout=10)
    try:
        await admin.execute(f'CREATE SCHEMA "{name}"')
        yield name
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        await admin.close()


class StoreBackend:
    """Opens stores on one fresh database; several stores on it act like several processes.

    Every store it opened is closed at teardown (closing twice is allowed), so a test may
    close one itself to simulate a process that stopped.
    """

    kind: str

    def __init__(self) -> None:
        self._opened: list[Store] = []

    async def _open(self, clock: Callable[[], datetime] | None, price: Price | None) -> Store:
        raise NotImplementedError

    async def open(
        self, *, clock: Callable[[], datetime] | None = None, price: Price | None = None
    ) -> Store:
        store = await self._open(clock, price)
        self._opened.append(store)
        return store

    async def close_all(self) -> None:
        for store in reversed(self._opened):
            await store.close()


class SqliteBackend(StoreBackend):
    kind = "sqlite"

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    async def _open(self, clock: Callable[[], datetime] | None, price: Price | None) -> Store:
        if clock is None:
            return await SqliteStore.open(self.path, price=price)
        return await SqliteStore.open(self.path, clock=clock, price=price)


class PostgresBackend(StoreBackend):
    kind = "postgres"

    def __init__(self, url: str, schema: str) -> None:
        super().__init__()
        self.url = url
        self.schema = schema

    async def _open(self, clock: Callable[[], datetime] | None, price: Price | None) -> Store:
        from bot.store.postgres import PostgresStore

        options: dict[str, Any] = {
            "schema": self.schema,
            "min_size": 1,
            "max_size": 5,
            "price": price,
        }
        if clock is not None:
            options["clock"] = clock
        return await PostgresStore.open(self.url, **options)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "bot.db"


@pytest.fixture(params=["sqlite", "postgres"])
async def backend(request: pytest.FixtureRequest, db_path: Path) -> AsyncIterator[StoreBackend]:
    if request.param == "sqlite":
        sqlite = SqliteBackend(db_path)
        try:
            yield sqlite
        finally:
            await sqlite.close_all()
        return
    url = postgres_url()
    async with fresh_schema(url) as schema:
        postgres = PostgresBackend(url, schema)
        try:
            yield postgres
        finally:
            await postgres.close_all()


@pytest.fixture
async def store(backend: StoreBackend) -> Store:
    return await backend.open()
