"""Apply the numbered PostgreSQL migrations (``migrations/postgres``) to one schema.

Same contract as the SQLite runner in ``migrate``: every step runs in its own transaction
together with its ``schema_version`` row, so a failing step leaves the database exactly
at the previous version (PostgreSQL DDL is transactional), released steps are checked
against their checksum, and a database newer than this build is refused.

Several bot processes may start at once against one database. They are serialised by a
session-level advisory lock taken before anything else, even before ``schema_version``
exists (two concurrent ``CREATE TABLE IF NOT EXISTS`` can still collide in PostgreSQL).
The lock key is derived from the schema, so bots that live in different schemas of one
database (and the test suite's throwaway schemas) never wait for each other.

A step is sent as one script (simple query protocol), so no statement splitting is
needed: PostgreSQL parses dollar-quoted function bodies and comments itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bot.store.locks import advisory_key
from bot.store.migrate import Migration, MigrationError, refuse_newer, verify_checksums

__all__ = ["apply_postgres_migrations", "postgres_schema_version"]

_CREATE_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    checksum   TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL
)
"""


async def _current_schema(conn: Any) -> str:
    schema = await conn.fetchval("SELECT current_schema()")
    if schema is None:
        # search_path names only schemas that do not exist: CREATE TABLE would fail with a
        # far less helpful message.
        raise MigrationError(
            "no schema to create tables in: the search_path names a schema that does not "
            "exist; create it first (CREATE SCHEMA …) or drop the setting"
        )
    return str(schema)


async def postgres_schema_version(conn: Any) -> int:
    """The highest applied step in the connection's current schema, 0 for a new one."""
    exists = await conn.fetchval("SELECT to_regclass('schema_version') IS NOT NULL")
    if not exists:
        return 0
    return int(await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_version"))


async def apply_postgres_migrations(
    conn: Any, migrations: Sequence[Migration], *, up_to: int | None = None
) -> list[int]:
    """Bring the current schema to ``up_to`` (default: the newest step); return what was applied.

    ``conn`` is an asyncpg connection outside any transaction.
    """
    target = len(migrations) if up_to is None else up_to
    lock = advisory_key("migrate", await _current_schema(conn))
    await conn.execute("SELECT pg_advisory_lock($1)", lock)
    try:
        await conn.execute(_CREATE_VERSION_TABLE)
        refuse_newer(await postgres_schema_version(conn), migrations)
        rows = await conn.fetch("SELECT version, name, checksum FROM schema_version")
        verify_checksums(
            ((int(r["version"]), str(r["name"]), str(r["checksum"])) for r in rows),
            {migration.version: migration for migration in migrations},
        )
        done = {int(r["version"]) for r in rows}
        applied: list[int] = []
        for migration in migrations:
            if migration.version > target:
                break
            if migration.version in done:
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_version (version, name, checksum, applied_at)"
                    " VALUES ($1, $2, $3, $4)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                    datetime.now(UTC),
                )
            applied.append(migration.version)
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", lock)
