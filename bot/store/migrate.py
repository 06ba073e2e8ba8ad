"""Versioned schema migrations: numbered SQL files applied in order, each in a transaction.

Loading the files and judging a database's recorded history (``load_migrations``,
``verify_checksums``, ``refuse_newer``) is shared by every dialect; applying them on
SQLite lives here, on PostgreSQL in ``migrate_postgres``. Both dialects keep the same
step numbers with the same meaning (``migrations/sqlite/0003`` ≙ ``migrations/postgres/0003``).

A database records every step it has applied in ``schema_version`` (version, name,
checksum, applied_at). Opening the store applies whatever is missing, so upgrading the
bot upgrades the database without losing rows. Released steps are never edited: the
checksum makes an edited step fail loudly instead of leaving databases that claim the
same version but differ in shape.

Each step runs inside ``BEGIN IMMEDIATE`` together with its ``schema_version`` row, so a
step that fails leaves the database exactly at the previous version, and two processes
starting at once cannot apply the same step twice. ``PRAGMA foreign_keys`` cannot change
inside a transaction: a step that rebuilds a table (SQLite's ALTER TABLE is limited) uses
``PRAGMA defer_foreign_keys = ON`` and the documented create-copy-drop-rename procedure.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite

from bot.store.base import StoreError

SQLITE_MIGRATIONS_DIR = Path(__file__).parent / "migrations" / "sqlite"
POSTGRES_MIGRATIONS_DIR = Path(__file__).parent / "migrations" / "postgres"
_FILENAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")

_CREATE_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    checksum   TEXT NOT NULL,
    applied_at TEXT NOT NULL
)
"""


class MigrationError(StoreError):
    """The database and this build's migrations disagree; starting would risk data."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        # Line endings are normalised so a Windows checkout does not look "edited".
        return hashlib.sha256(self.sql.replace("\r\n", "\n").encode()).hexdigest()


def load_migrations(directory: Path = SQLITE_MIGRATIONS_DIR) -> list[Migration]:
    """Read ``NNNN_name.sql`` files, checking the numbers run 1, 2, 3… without gaps.

    Blocking file reads: call once at startup (``open_store`` runs it in a thread).
    """
    migrations: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILENAME.match(path.name)
        if match is None:
            raise MigrationError(
                f"migration file {path.name!r} is not named NNNN_lowercase_name.sql"
            )
        migrations.append(
            Migration(int(match["version"]), match["name"], path.read_text(encoding="utf-8"))
        )
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            raise MigrationError(
                f"migrations must be numbered 1, 2, 3… without gaps; found {migration.version:04d}"
                f" where {expected:04d} was expected"
            )
    return migrations


async def schema_version(conn: aiosqlite.Connection) -> int:
    """The highest applied step, 0 for a new database."""
    await conn.execute(_CREATE_VERSION_TABLE)
    rows = list(await conn.execute_fetchall("SELECT COALESCE(MAX(version), 0) FROM schema_version"))
    return int(rows[0][0])


async def apply_migrations(
    conn: aiosqlite.Connection,
    migrations: list[Migration],
    *,
    up_to: int | None = None,
) -> list[int]:
    """Bring the database to ``up_to`` (default: the newest step); return the versions applied.

    ``conn`` must be in autocommit mode (``isolation_level=None``) so the explicit
    transactions here are the only ones.
    """
    target = len(migrations) if up_to is None else up_to
    known = {migration.version: migration for migration in migrations}
    current = await schema_version(conn)
    refuse_newer(current, migrations)
    await _verify_checksums(conn, known)
    applied: list[int] = []
    for migration in migrations:
        if migration.version > target:
            break
        if await _apply_one(conn, migration):
            applied.append(migration.version)
    return applied


async def _verify_checksums(conn: aiosqlite.Connection, known: dict[int, Migration]) -> None:
    rows = await conn.execute_fetchall("SELECT version, name, checksum FROM schema_version")
    verify_checksums(((int(v), str(n), str(c)) for v, n, c in rows), known)


def verify_checksums(
    applied: Iterable[tuple[int, str, str]], known: Mapping[int, Migration]
) -> None:
    """Refuse a database whose recorded steps differ from this build's files of that number.

    Shared by every dialect: ``applied`` is ``(version, name, checksum)`` rows as recorded.
    """
    for version, name, checksum in applied:
        migration = known.get(version)
        if migration is not None and migration.checksum != checksum:
            raise MigrationError(
                f"migration {version:04d}_{name} was edited after it was applied; "
                "released migrations must never change; add a new numbered step instead"
            )


def refuse_newer(current: int, migrations: Sequence[Migration]) -> None:
    """A database migrated by a newer build must not be opened (and half-understood) by this one."""
    if current > len(migrations):
        raise MigrationError(
            f"the database is at schema version {current} but this build only knows "
            f"{len(migrations)}; upgrade the bot instead of downgrading it"
        )


async def _apply_one(conn: aiosqlite.Connection, migration: Migration) -> bool:
    statements = split_statements(migration.sql)
    await conn.execute("BEGIN IMMEDIATE")
    try:
        already = await conn.execute_fetchall(
            "SELECT 1 FROM schema_version WHERE version = ?", (migration.version,)
        )
        if list(already):
            # Another process applied it between our version check and our lock.
            await conn.execute("ROLLBACK")
            return False
        for statement in statements:
            await conn.execute(statement)
        await conn.execute(
            "INSERT INTO schema_version (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)",
            (
                migration.version,
                migration.name,
                migration.checksum,
                datetime.now(UTC).isoformat(timespec="microseconds"),
            ),
        )
        await conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            await conn.execute("ROLLBACK")
        raise
    return True


def split_statements(sql: str) -> list[str]:
    """Split a script into statements with SQLite's own tokenizer.

    ``executescript`` would be simpler but commits any open transaction first, which
    would separate a step from its ``schema_version`` row. ``sqlite3.complete_statement``
    knows about strings, comments and trigger bodies, so a ``;`` inside them does not split.
    """
    statements: list[str] = []
    start = 0
    for position, char in enumerate(sql):
        if char == ";" and sqlite3.complete_statement(sql[start : position + 1]):
            statements.append(sql[start : position + 1].strip())
            start = position + 1
    leftover = [
        line
        for line in sql[start:].splitlines()
        if line.strip() and not line.strip().startswith("--")
    ]
    if leftover:
        raise MigrationError("a migration ends with a statement that has no terminating semicolon")
    return statements
