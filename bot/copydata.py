"""``imagine-bot copy-data SOURCE_URL TARGET_URL``: move everything to another database.

An owner moving from SQLite to PostgreSQL (or back) must keep every member's limit, the
servers' settings and rules, the usage log and the audit log: losing them means
moderators start over and members' ``/usage`` changes overnight.

The copy is generic on purpose: both databases are first brought to this build's schema
by the normal migrations (``open_store``), then every table the migrated schema holds is
found by introspection and copied column by column. A table added by a later migration
is therefore copied without touching this module; ``tests/test_copy_data.py`` fails if a
table of the migrated schema is left out. Only each store's own bookkeeping stays
behind (``schema_version``, SQLite's ``sqlite_*``).

Safety, in the order checked:

- both URLs are valid and name different databases;
- no bot is running on the source: a job in flight whose lease has not run out belongs to
  a living bot (leases end when a bot stops cleanly);
- the target holds no data, unless ``--force`` (its rows are then replaced);
- everything is written in one transaction on the target, triggers held off so derived
  tables (the daily usage counters) are copied exactly instead of counted twice; the
  row counts are compared with the source before committing. Any failure leaves the
  target as it was.

Values travel in the shape each store writes: SQLite keeps times as ISO text
(``sqlite._ts``), days as ``YYYY-MM-DD`` and booleans as 0/1; PostgreSQL has real types.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol, TextIO

import aiosqlite

from bot.policy.quota import as_utc
from bot.store import StoreError, open_store
from bot.store.pgurl import describe, is_postgres_url, normalise, scrub

BATCH = 1000
"""Rows read and written at a time: bounded memory whatever the size of the usage log."""

PROGRESS_MIN_ROWS = 2000
"""Tables at least this long get a progress bar (on a terminal)."""

BOOKKEEPING = frozenset({"schema_version"})
"""Each store's own record of its migrations: never copied, both are already migrated."""

TIMEOUT = 30.0

EXIT_OK, EXIT_REFUSED, EXIT_CONFIG = 0, 1, 2

Row = tuple[Any, ...]


class CopyRefused(Exception):
    """The copy would lose or mix data; ``str()`` is the one line shown to the owner."""


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]
    order_by: tuple[str, ...]
    """Primary key columns: parents before children for self-references (``parent_id``)."""
    references: frozenset[str] = frozenset()
    """Other tables this one's foreign keys point at: they are filled first."""
    types: dict[str, str] = field(default_factory=dict)
    """PostgreSQL only: column -> data type, to turn SQLite's text and 0/1 into values."""


@dataclass
class Summary:
    source: str
    target: str
    rows: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        width = max([len("table"), *(len(name) for name in self.rows)])
        lines = [f"copied {self.source} -> {self.target}", f"  {'table':<{width}}  rows"]
        lines += [f"  {name:<{width}}  {count}" for name, count in self.rows.items()]
        lines.append(f"  {'total':<{width}}  {sum(self.rows.values())}")
        return lines


class Database(Protocol):
    """One end of the copy. Table names come from the database itself, never from input."""

    label: str

    async def tables(self) -> dict[str, Table]: ...
    async def count(self, table: str) -> int: ...
    def read(self, table: Table) -> AsyncIterator[list[Row]]: ...
    async def live_leases(self, now: datetime) -> list[tuple[str, datetime]]: ...
    async def begin_read(self) -> None: ...
    async def begin_write(self, tables: Sequence[Table]) -> None: ...
    async def clear(self, table: Table) -> None: ...
    async def write(self, table: Table, columns: Sequence[str], rows: list[Row]) -> None: ...
    async def finish_write(self, tables: Sequence[Table]) -> None: ...
    async def rollback(self) -> None: ...
    async def close(self) -> None: ...


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sqlite_time(moment: datetime) -> str:
    """Exactly what the SQLite store writes for a time (``bot.store.sqlite._ts``)."""
    return as_utc(moment).isoformat(timespec="microseconds")


def _lease_end(value: Any) -> datetime | None:
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return as_utc(moment)


LEASES_SQL = (
    "SELECT owner, lease_until FROM generations "
    "WHERE status IN ('queued', 'running') AND lease_until IS NOT NULL"
)


class SqliteDatabase:
    def __init__(self, conn: aiosqlite.Connection, label: str) -> None:
        self._conn = conn
        self.label = label
        self._triggers: list[str] = []

    @classmethod
    async def connect(cls, url: str) -> SqliteDatabase:
        from bot.store import sqlite_path_from_url

        path = sqlite_path_from_url(url)
        conn = await aiosqlite.connect(str(path), isolation_level=None)
        await conn.execute("PRAGMA busy_timeout = 10000")
        return cls(conn, f"sqlite:///{path}")

    async def _all(self, sql: str, *args: Any) -> list[Row]:
        return [tuple(row) for row in await self._conn.execute_fetchall(sql, args)]

    async def tables(self) -> dict[str, Table]:
        names = await self._all(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
        found: dict[str, Table] = {}
        for (name,) in names:
            info = await self._all(f"PRAGMA table_info({_quote(name)})")
            keys = sorted((row[5], row[1]) for row in info if row[5])
            refs = await self._all(f"PRAGMA foreign_key_list({_quote(name)})")
            found[name] = Table(
                name,
                tuple(row[1] for row in info),
                tuple(column for _, column in keys),
                frozenset(str(row[2]) for row in refs) - {name},
            )
        return found

    async def count(self, table: str) -> int:
        return int((await self._all(f"SELECT COUNT(*) FROM {_quote(table)}"))[0][0])

    async def read(self, table: Table) -> AsyncIterator[list[Row]]:
        columns = ", ".join(map(_quote, table.columns))
        order = f" ORDER BY {', '.join(map(_quote, table.order_by))}" if table.order_by else ""
        async with self._conn.execute(f"SELECT {columns} FROM {_quote(table.name)}{order}") as cur:
            while batch := await cur.fetchmany(BATCH):
                yield [tuple(row) for row in batch]

    async def live_leases(self, now: datetime) -> list[tuple[str, datetime]]:
        leases = [(str(owner), _lease_end(until)) for owner, until in await self._all(LEASES_SQL)]
        return [(owner, until) for owner, until in leases if until is not None and until > now]

    async def begin_read(self) -> None:
        await self._conn.execute("BEGIN")  # one snapshot for every table (WAL)

    async def begin_write(self, tables: Sequence[Table]) -> None:
        await self._conn.execute("BEGIN IMMEDIATE")
        # SQLite cannot switch triggers off: drop them for the copy, recreated before COMMIT.
        triggers = await self._all(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND sql IS NOT NULL"
        )
        self._triggers = [str(sql) for _, sql in triggers]
        for name, _ in triggers:
            await self._conn.execute(f"DROP TRIGGER {_quote(str(name))}")

    async def clear(self, table: Table) -> None:
        await self._conn.execute(f"DELETE FROM {_quote(table.name)}")

    async def write(self, table: Table, columns: Sequence[str], rows: list[Row]) -> None:
        marks = ", ".join("?" for _ in columns)
        sql = f"INSERT INTO {_quote(table.name)} ({', '.join(map(_quote, columns))}) "
        await self._conn.executemany(f"{sql}VALUES ({marks})", [_to_sqlite(r) for r in rows])

    async def finish_write(self, tables: Sequence[Table]) -> None:
        for sql in self._triggers:
            await self._conn.execute(sql)
        await self._conn.execute("COMMIT")

    async def rollback(self) -> None:
        if self._conn.in_transaction:
            await self._conn.execute("ROLLBACK")

    async def close(self) -> None:
        await self.rollback()
        await self._conn.close()


def _to_sqlite(row: Row) -> Row:
    """PostgreSQL's values in the SQLite store's shapes (bool is an int: check it first)."""
    out: list[Any] = []
    for value in row:
        if isinstance(value, bool):
            value = int(value)
        elif isinstance(value, datetime):
            value = sqlite_time(value)
        elif isinstance(value, date):
            value = value.isoformat()
        out.append(value)
    return tuple(out)


def _from_sqlite(pg_type: str) -> Callable[[Any], Any] | None:
    """How a SQLite value becomes a value of PostgreSQL's ``pg_type`` (None: as it is)."""
    if pg_type == "timestamp with time zone":
        return lambda v: v if not isinstance(v, str) else datetime.fromisoformat(v)
    if pg_type == "date":
        return lambda v: v if not isinstance(v, str) else date.fromisoformat(v)
    if pg_type == "boolean":
        return lambda v: v if v is None else bool(v)
    return None


class PostgresDatabase:
    def __init__(self, conn: Any, label: str) -> None:
        self._conn = conn
        self.label = label
        self._transaction: Any = None

    @classmethod
    async def connect(cls, url: str) -> PostgresDatabase:
        import asyncpg

        try:
            conn = await asyncpg.connect(normalise(url), timeout=TIMEOUT, command_timeout=600)
        except Exception as error:
            raise StoreError(
                f"cannot connect to PostgreSQL at {describe(url)}: "
                f"{type(error).__name__}: {scrub(str(error), url)}"
            ) from None
        return cls(conn, f"postgresql://{describe(url)}")

    async def tables(self) -> dict[str, Table]:
        rows = await self._conn.fetch(
            "SELECT c.relname AS name, a.attname AS col, format_type(a.atttypid, NULL) AS type,"
            " COALESCE(a.attnum = ANY(i.indkey::int2[]), false) AS is_key, a.attnum,"
            " array_position(i.indkey::int2[], a.attnum) AS key_pos"
            " FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid"
            " LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary"
            " WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'"
            " AND a.attnum > 0 AND NOT a.attisdropped ORDER BY c.relname, a.attnum"
        )
        refs = await self._conn.fetch(
            "SELECT c.conrelid::regclass::text AS child, c.confrelid::regclass::text AS parent"
            " FROM pg_constraint c WHERE c.contype = 'f'"
            " AND c.connamespace = current_schema()::regnamespace"
        )
        grouped: dict[str, list[Any]] = {}
        for row in rows:
            grouped.setdefault(row["name"], []).append(row)
        found: dict[str, Table] = {}
        for name, columns in grouped.items():
            keys = sorted((c["key_pos"], c["col"]) for c in columns if c["is_key"])
            parents = {r["parent"].strip('"') for r in refs if r["child"].strip('"') == name}
            found[name] = Table(
                name,
                tuple(c["col"] for c in columns),
                tuple(col for _, col in keys),
                frozenset(parents) - {name},
                {c["col"]: c["type"] for c in columns},
            )
        return found

    async def count(self, table: str) -> int:
        return int(await self._conn.fetchval(f"SELECT COUNT(*) FROM {_quote(table)}"))

    async def read(self, table: Table) -> AsyncIterator[list[Row]]:
        columns = ", ".join(map(_quote, table.columns))
        order = f" ORDER BY {', '.join(map(_quote, table.order_by))}" if table.order_by else ""
        cursor = await self._conn.cursor(f"SELECT {columns} FROM {_quote(table.name)}{order}")
        while batch := await cursor.fetch(BATCH):
            yield [tuple(row) for row in batch]

    async def live_leases(self, now: datetime) -> list[tuple[str, datetime]]:
        rows = await self._conn.fetch(LEASES_SQL + " AND lease_until > $1", now)
        return [(str(r["owner"]), as_utc(r["lease_until"])) for r in rows]

    async def begin_read(self) -> None:
        self._transaction = self._conn.transaction(isolation="repeatable_read", readonly=True)
        await self._transaction.start()

    async def begin_write(self, tables: Sequence[Table]) -> None:
        self._transaction = self._conn.transaction()
        await self._transaction.start()
        for table in tables:  # triggers the owner created, not the foreign-key checks
            await self._conn.execute(f"ALTER TABLE {_quote(table.name)} DISABLE TRIGGER USER")

    async def clear(self, table: Table) -> None:
        await self._conn.execute(f"DELETE FROM {_quote(table.name)}")

    async def write(self, table: Table, columns: Sequence[str], rows: list[Row]) -> None:
        converters = [_from_sqlite(table.types.get(column, "")) for column in columns]
        if any(converters):
            rows = [
                tuple(v if c is None else c(v) for v, c in zip(row, converters, strict=True))
                for row in rows
            ]
        await self._conn.copy_records_to_table(table.name, records=rows, columns=list(columns))

    async def finish_write(self, tables: Sequence[Table]) -> None:
        for table in tables:
            await self._conn.execute(f"ALTER TABLE {_quote(table.name)} ENABLE TRIGGER USER")
            for column in table.columns:  # identity columns continue after the copied ids
                sequence = await self._conn.fetchval(
                    "SELECT pg_get_serial_sequence($1, $2)", _quote(table.name), column
                )
                if sequence is not None:
                    await self._conn.execute(
                        f"SELECT setval($1, COALESCE((SELECT MAX({_quote(column)}) "
                        f"FROM {_quote(table.name)}), 0) + 1, false)",
                        sequence,
                    )
        await self._transaction.commit()
        self._transaction = None

    async def rollback(self) -> None:
        if self._transaction is not None:
            transaction, self._transaction = self._transaction, None
            await transaction.rollback()

    async def close(self) -> None:
        await self.rollback()
        await self._conn.close()


async def connect(url: str) -> Database:
    if is_postgres_url(url):
        return await PostgresDatabase.connect(url)
    return await SqliteDatabase.connect(url)


def fill_order(tables: dict[str, Table]) -> list[Table]:
    """Tables with the ones their foreign keys point at first (alphabetical otherwise)."""
    ordered: list[Table] = []
    placed: set[str] = set()
    pending = dict(sorted(tables.items()))
    while pending:
        ready = [
            t for t in pending.values() if t.references <= placed | (t.references - set(tables))
        ]
        if not ready:  # a cycle: cannot happen with this schema; keep going alphabetically
            ready = [next(iter(pending.values()))]
        for table in ready:
            ordered.append(table)
            placed.add(table.name)
            del pending[table.name]
    return ordered


class Progress:
    """A one-line bar on a terminal for long tables; nothing at all elsewhere."""

    def __init__(self, stream: TextIO, name: str, total: int) -> None:
        self._stream = stream
        self._name = name
        self._total = total
        self._shown = total >= PROGRESS_MIN_ROWS and stream.isatty()
        self._last = 0.0

    def update(self, done: int) -> None:
        now = time.monotonic()
        if not self._shown or (now - self._last < 0.1 and done < self._total):
            return
        self._last = now
        filled = 30 * done // max(1, self._total)
        bar = "#" * filled + "." * (30 - filled)
        share = 100 * done // max(1, self._total)
        self._stream.write(f"\r  {self._name} [{bar}] {done}/{self._total} rows {share:3d}%")
        if done >= self._total:
            self._stream.write("\n")
        self._stream.flush()


def _same_database(first: str, second: str) -> bool:
    """Two spellings of one SQLite file (relative, absolute) count as the same database."""
    if is_postgres_url(first) or is_postgres_url(second):
        return normalise(first) == normalise(second)
    from bot.store import sqlite_path_from_url

    return sqlite_path_from_url(first).resolve() == sqlite_path_from_url(second).resolve()


async def copy_data(
    source_url: str,
    target_url: str,
    *,
    force: bool = False,
    progress: TextIO | None = None,
    now: datetime | None = None,
) -> Summary:
    """Copy every table from ``source_url`` to ``target_url``; raises :class:`CopyRefused`."""
    if _same_database(source_url, target_url):
        raise CopyRefused("SOURCE_URL and TARGET_URL name the same database")
    for url in (source_url, target_url):  # both on this build's schema, created if needed
        store = await open_store(url)
        await store.close()
    source = await connect(source_url)
    try:
        target = await connect(target_url)
        try:
            return await _copy(source, target, force, progress, now or datetime.now(UTC))
        finally:
            await target.close()
    finally:
        await source.close()


async def _copy(
    source: Database,
    target: Database,
    force: bool,
    progress: TextIO | None,
    now: datetime,
) -> Summary:
    await source.begin_read()
    leases = await source.live_leases(now)
    if leases:
        owner, until = max(leases, key=lambda lease: lease[1])
        raise CopyRefused(
            f"a bot is running on the source: {len(leases)} generation(s) are leased to "
            f"{owner} until {until:%H:%M:%S} UTC. Stop the bot first (a clean stop ends its "
            "leases; after a crash, wait until then)"
        )
    source_tables = {n: t for n, t in (await source.tables()).items() if n not in BOOKKEEPING}
    target_tables = {n: t for n, t in (await target.tables()).items() if n not in BOOKKEEPING}
    if set(source_tables) != set(target_tables):
        only = sorted(set(source_tables) ^ set(target_tables))
        raise CopyRefused(f"the two schemas differ (tables {', '.join(only)}); upgrade both")
    for name, table in source_tables.items():
        if set(table.columns) != set(target_tables[name].columns):
            raise CopyRefused(f"the two schemas differ in table {name}; upgrade both")
    order = fill_order(target_tables)
    occupied = [t.name for t in order if await target.count(t.name)]
    if occupied and not force:
        raise CopyRefused(
            f"the target already holds data (in {', '.join(occupied)}); copy into an empty "
            "database, or pass --force to replace what it holds"
        )
    summary = Summary(source.label, target.label)
    await target.begin_write(order)
    try:
        for table in reversed(order):
            await target.clear(table)
        for table in order:
            read_as = source_tables[table.name]
            total = await source.count(table.name)
            bar = Progress(progress or sys.stderr, table.name, total)
            done = 0
            async for rows in source.read(read_as):
                await target.write(table, read_as.columns, rows)
                done += len(rows)
                bar.update(done)
            if await target.count(table.name) != total:
                raise CopyRefused(
                    f"{table.name}: the target does not hold every row; nothing copied"
                )
            summary.rows[table.name] = total
        await target.finish_write(order)
    except BaseException:
        await target.rollback()
        raise
    return summary


def copy_data_command(
    source_url: str, target_url: str, *, force: bool, fail: Callable[[str], int]
) -> int:
    """``imagine-bot copy-data``: exit 0 copied, 1 refused or failed, 2 a bad URL."""
    from bot.config import ConfigError, database_url_setting

    try:
        for name, url in (("SOURCE_URL", source_url), ("TARGET_URL", target_url)):
            database_url_setting(url, name)
    except ConfigError as error:
        return fail(str(error))
    try:
        summary = asyncio.run(copy_data(source_url, target_url, force=force))
    except CopyRefused as error:
        fail(f"copy-data refused: {error}")
        return EXIT_REFUSED
    except Exception as error:  # the drivers' errors vary; none may show a password
        text = scrub(scrub(f"{type(error).__name__}: {error}", source_url), target_url)
        fail(f"copy-data failed, the target is unchanged: {text}")
        return EXIT_REFUSED
    for line in summary.lines():
        print(line)
    return EXIT_OK
