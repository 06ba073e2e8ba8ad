"""The SQLite implementation of ``Store`` (aiosqlite; each connection runs in its own thread).

Connections
    One **writer** connection carries every write. Writes take an ``asyncio.Lock`` and
    multi-statement writes run inside ``BEGIN IMMEDIATE``, so a quota check and the insert
    of its reservation are one atomic step: two requests racing for the last image are
    simply ordered, and exactly one gets it. ``BEGIN IMMEDIATE`` (not the lock alone) also
    keeps that true if a second process ever opens the same file. The lock covers even
    single-statement writes because on a shared connection an autocommit statement issued
    while another coroutine's transaction is open would silently join, and roll back with,
    that transaction.

    A separate **reader** connection (``query_only``) serves ``usage``, ``guild_policy``,
    statistics and exports. In WAL mode readers never block the writer nor wait for it, and
    a reader can never observe another coroutine's uncommitted rows, which would happen if
    reads shared the writer connection mid-transaction. Every read is a single statement
    (subqueries and JSON aggregates gather what would otherwise take several), so each one
    is its own consistent snapshot and needs neither a lock nor a transaction.

Cost
    aiosqlite runs each statement on the connection's thread, so round trips, not SQL, are
    the main cost. ``reserve`` is the hot path: reservations that arrive together are
    group-committed — one trip to the writer thread runs BEGIN, then for each one a
    savepoint, its job-limit and quota SELECTs and its INSERT, then COMMIT
    (:class:`_GroupCommit`). Settling a generation is one trip, ``guild_policy`` is one. The
    server-wide daily total is a trigger-maintained counter (migration 0003), so no check
    grows with the size of the log. ``python -m bench.quota_bench`` measures all of it.

Durability
    ``synchronous=NORMAL`` in WAL mode: a power cut may lose the last few commits but never
    corrupts the file. The worst case is a few images not counted, which is acceptable for
    a daily quota and keeps commits free of fsync.

Timestamps are TEXT, ISO 8601 in UTC with microseconds (see migrations/sqlite/0001).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Final, TypeVar

import aiosqlite

from bot.policy.quota import as_utc, check_quota, day_start, day_window, reset_at, validate_limit
from bot.policy.spend import Price
from bot.store.base import (
    AuditAction,
    AuditEntry,
    DailyTotal,
    GenerationNotFound,
    GenerationParams,
    GenerationRecord,
    GuildPolicy,
    InteractionRef,
    JobLimits,
    Lease,
    MemberContext,
    MemberTotal,
    PruneBatch,
    Reach,
    Reservation,
)
from bot.store.common import (
    GENERATION_COLUMNS,
    GUILD_SETTING_COLUMNS,
    PREFERENCE_COLUMNS,
    Began,
    ModerationSql,
    QuotaState,
    StoreCommon,
    WorkspaceSql,
    audit_entry,
    check_abandoned,
    check_job_limits,
    daily_totals_from_rows,
    explain_settle_miss,
    fold_pruned,
    generation_record,
    guild_policy_from_row,
    limit_text,
    member_totals_from_rows,
    utcnow,
)
from bot.store.migrate import Migration, apply_migrations, load_migrations

DEFAULT_BUSY_TIMEOUT_MS: Final = 5_000
MAX_BLOCKED_WORDS_PER_GUILD: Final = 1_000
"""Every prompt is matched against the whole list before deferring; keep that fast."""

_JOB_LIMITS_SQL = (
    "SELECT COALESCE(SUM(guild_id = ? AND user_id = ?), 0), COUNT(*) FROM generations"
    " WHERE status IN ('queued', 'running')"
)
_INSERT_GENERATION_SQL = (
    "INSERT INTO generations (parent_id, guild_id, channel_id, user_id, prompt,"
    " width, height, size_preset, steps, guidance, acceleration, seed,"
    " safety_checker, count, status, reserved, delivered, created_at,"
    " interaction_token, token_expires_at, owner, lease_until, style_name, style_text, reach,"
    " locale, member_locale)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
    " ?)"
)

# Everything the quota decision needs, in one statement (one round trip to the thread).
# Role limits come back as a JSON object of only the member's roles; the pure policy
# function then picks among them, so there is one implementation of the resolution order.
_QUOTA_STATE_SQL = """
SELECT
    (SELECT daily_limit FROM member_limits WHERE guild_id = :guild AND user_id = :user),
    (SELECT json_group_object(role_id, daily_limit) FROM role_limits
      WHERE guild_id = :guild AND role_id IN (SELECT value FROM json_each(:roles))),
    (SELECT default_limit FROM guild_settings WHERE guild_id = :guild),
    (SELECT server_budget FROM guild_settings WHERE guild_id = :guild),
    (SELECT COALESCE(SUM(reserved + delivered), 0) FROM generations
      WHERE guild_id = :guild AND user_id = :user AND created_at >= :start AND created_at < :end
        AND id > COALESCE((SELECT after_generation_id FROM usage_resets
                            WHERE guild_id = :guild AND user_id = :user), 0)),
    (SELECT images FROM guild_daily_usage WHERE guild_id = :guild AND day = :day)
"""

_GUILD_POLICY_SQL = """
SELECT
    (SELECT default_limit FROM guild_settings WHERE guild_id = :guild),
    (SELECT server_budget FROM guild_settings WHERE guild_id = :guild),
    (SELECT nsfw_safety FROM guild_settings WHERE guild_id = :guild),
    (SELECT json_group_object(role_id, daily_limit) FROM role_limits WHERE guild_id = :guild),
    (SELECT json_group_object(user_id, daily_limit) FROM member_limits WHERE guild_id = :guild),
    (SELECT json_group_array(channel_id) FROM allowed_channels WHERE guild_id = :guild),
    (SELECT json_group_array(word)
       FROM (SELECT word FROM blocked_words WHERE guild_id = :guild ORDER BY word)),
    (SELECT log_channel_id FROM guild_settings WHERE guild_id = :guild),
    (SELECT language FROM guild_settings WHERE guild_id = :guild)
"""

# Statistics read the live rows and the totals of pruned ones (usage_archive, 0008) in
# one statement, so a pruning batch (one transaction) can never be counted twice or not
# at all. :start/:end bound created_at, :first_day/:end_day the archive's days.
_DAILY_TOTALS_SQL = """
SELECT day, SUM(images), SUM(generations), SUM(failures), SUM(cost) FROM (
    SELECT substr(created_at, 1, 10) AS day, SUM(reserved + delivered) AS images,
           COUNT(*) AS generations, SUM(status = 'failed') AS failures,
           COALESCE(SUM(cost_pico_usd), 0) AS cost
    FROM generations WHERE guild_id = :guild AND created_at >= :start AND created_at < :end
    GROUP BY substr(created_at, 1, 10)
    UNION ALL
    SELECT day, SUM(images), SUM(generations), SUM(failures), SUM(cost_pico_usd)
    FROM usage_archive WHERE guild_id = :guild AND day >= :first_day AND day < :end_day
    GROUP BY day
) GROUP BY day
"""

_TOP_MEMBERS_SQL = """
SELECT user_id, SUM(images) AS images, SUM(requests) AS requests, SUM(cost) FROM (
    SELECT user_id, SUM(reserved + delivered) AS images, COUNT(*) AS requests,
           COALESCE(SUM(cost_pico_usd), 0) AS cost
    FROM generations WHERE guild_id = :guild AND created_at >= :start AND created_at < :end
    GROUP BY user_id
    UNION ALL
    SELECT user_id, SUM(images), SUM(generations), SUM(cost_pico_usd)
    FROM usage_archive WHERE guild_id = :guild AND day >= :first_day AND day < :end_day
    GROUP BY user_id
) GROUP BY user_id ORDER BY images DESC, requests DESC, user_id LIMIT :limit
"""

# One pruning batch: the oldest settled rows before :before, deleted and returned so the
# same transaction can fold exactly them into usage_archive.
_PRUNE_GENERATIONS_SQL = """
DELETE FROM generations WHERE id IN (
    SELECT id FROM generations
    WHERE created_at < :before AND status NOT IN ('queued', 'running')
    ORDER BY created_at LIMIT :limit
)
RETURNING guild_id, substr(created_at, 1, 10), user_id, reserved + delivered, status,
          cost_pico_usd
"""

_ARCHIVE_UPSERT_SQL = """
INSERT INTO usage_archive (guild_id, day, user_id, images, generations, failures, cost_pico_usd)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (guild_id, day, user_id) DO UPDATE SET
    images = images + excluded.images,
    generations = generations + excluded.generations,
    failures = failures + excluded.failures,
    cost_pico_usd = cost_pico_usd + excluded.cost_pico_usd
"""

_WORKSPACE_SQL: Final = WorkspaceSql(
    get_preferences=f"SELECT {PREFERENCE_COLUMNS} FROM member_preferences"
    " WHERE scope_id = ? AND user_id = ?",
    put_preferences=f"INSERT INTO member_preferences (scope_id, user_id, {PREFERENCE_COLUMNS},"
    " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (scope_id, user_id) DO UPDATE SET size_preset = excluded.size_preset,"
    " width = excluded.width, height = excluded.height, steps = excluded.steps,"
    " guidance = excluded.guidance, acceleration = excluded.acceleration,"
    " count = excluded.count, style = excluded.style, updated_at = excluded.updated_at",
    delete_preferences="DELETE FROM member_preferences WHERE scope_id = ? AND user_id = ?",
    list_styles="SELECT name, text, created_by, created_at FROM guild_styles"
    " WHERE guild_id = ? ORDER BY name_key",
    get_style="SELECT name, text, created_by, created_at FROM guild_styles"
    " WHERE guild_id = ? AND name_key = ?",
    get_style_text="SELECT text FROM guild_styles WHERE guild_id = ? AND name_key = ?",
    count_styles="SELECT COUNT(*) FROM guild_styles WHERE guild_id = ?",
    put_style="INSERT INTO guild_styles (guild_id, name_key, name, text, created_by, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (guild_id, name_key) DO UPDATE SET"
    " name = excluded.name, text = excluded.text, created_by = excluded.created_by,"
    " created_at = excluded.created_at",
    delete_style="DELETE FROM guild_styles WHERE guild_id = ? AND name_key = ?",
    history=f"SELECT {GENERATION_COLUMNS} FROM generations WHERE guild_id = ? AND user_id = ?"
    " ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
    count_history="SELECT COUNT(*) FROM generations WHERE guild_id = ? AND user_id = ?",
)

_MODERATION_SQL: Final = ModerationSql(
    allow_channel="INSERT OR IGNORE INTO allowed_channels (guild_id, channel_id) VALUES (?, ?)",
    disallow_channel="DELETE FROM allowed_channels WHERE guild_id = ? AND channel_id = ?",
    block_word="INSERT OR IGNORE INTO blocked_words (guild_id, word) VALUES (?, ?)",
    unblock_word="DELETE FROM blocked_words WHERE guild_id = ? AND word = ?",
    count_blocked_words="SELECT COUNT(*) FROM blocked_words WHERE guild_id = ?",
    word_is_blocked="SELECT 1 FROM blocked_words WHERE guild_id = ? AND word = ?",
)


def _ts(moment: datetime) -> str:
    return as_utc(moment).isoformat(timespec="microseconds")


def _parse_ts(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _json_limits(text: str | None) -> dict[int, int]:
    """A ``json_group_object`` of id → daily limit (NULL when there are none) as a dict."""
    return {int(key): int(limit) for key, limit in json.loads(text or "{}").items()}


def _json_list(text: str | None) -> list[Any]:
    """A ``json_group_array`` (NULL when there are no rows) as a list."""
    return list(json.loads(text or "[]"))


async def _connect(path: str, *, busy_timeout_ms: int, read_only: bool) -> aiosqlite.Connection:
    # isolation_level=None: no implicit transactions; the store issues BEGIN/COMMIT itself.
    conn = await aiosqlite.connect(path, isolation_level=None)
    try:
        await conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        if not read_only:
            rows = list(await conn.execute_fetchall("PRAGMA journal_mode = WAL"))
            if str(rows[0][0]).lower() != "wal":
                raise sqlite3.OperationalError(
                    f"could not switch the database to WAL mode (got {rows[0][0]!r})"
                )
        await conn.execute("PRAGMA foreign_keys = ON")
        await conn.execute("PRAGMA synchronous = NORMAL")
        if read_only:
            await conn.execute("PRAGMA query_only = ON")
    except BaseException:
        await conn.close()
        raise
    return conn


_T = TypeVar("_T")


async def _in_writer_thread(
    conn: aiosqlite.Connection, work: Callable[[sqlite3.Connection], _T]
) -> _T:
    """Run ``work`` on the raw sqlite3 connection in aiosqlite's own thread, as one call
    (the writer's, or the reader's for a read that must say when it begins).

    aiosqlite runs every call on the connection in one thread, in order; its public API
    sends one statement per call, and each await costs a turn of the event loop. For the
    hot path (reservations) a whole transaction goes in one call instead. aiosqlite has
    no public method for that, so this uses ``_execute`` and ``_conn``, unchanged since
    aiosqlite 0.17 (the store's tests exercise them on every run).
    """
    raw: sqlite3.Connection = conn._conn
    result: _T = await conn._execute(work, raw)  # type: ignore[no-untyped-call]
    return result


class _GroupCommit:
    """Runs queued pieces of work as one transaction in the writer thread.

    Under a burst, the single writer was the queue everyone waited in: each
    reservation took the write lock for its own round trips to the thread, and every
    handover cost a turn of a busy event loop. Here whoever arrives while a batch is
    being written waits for the next batch, and a batch is one call: ``BEGIN
    IMMEDIATE``, every piece under its own savepoint (one refusal or failure undoes
    only that piece), ``COMMIT``. Each piece sees the rows of the pieces before it,
    so the result is exactly what running them one by one would give.
    """

    def __init__(self, store: SqliteStore) -> None:
        self._store = store
        self._waiting: list[tuple[Callable[[sqlite3.Connection], Any], asyncio.Future[Any]]] = []
        self._writing: asyncio.Task[None] | None = None

    async def submit(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        future: asyncio.Future[_T] = asyncio.get_running_loop().create_future()
        self._waiting.append((work, future))
        if self._writing is None or self._writing.done():
            self._writing = asyncio.ensure_future(self._write_batches())
        return await future

    async def _write_batches(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                async with self._store._write(transaction=False) as conn:
                    outcomes = await _in_writer_thread(conn, partial(_run_batch, batch))
            except BaseException as error:  # the transaction itself failed: tell everyone
                cancelled = isinstance(error, asyncio.CancelledError)
                for _, future in batch + (self._waiting if cancelled else []):
                    if not future.done():
                        future.set_exception(error)
                if cancelled:
                    self._waiting = []
                    raise
                continue
            for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)


def _run_batch(
    batch: Sequence[tuple[Callable[[sqlite3.Connection], Any], asyncio.Future[Any]]],
    db: sqlite3.Connection,
) -> list[tuple[bool, Any]]:
    """The writer-thread side of :class:`_GroupCommit`: one transaction, one savepoint each."""
    outcomes: list[tuple[bool, Any]] = []
    db.execute("BEGIN IMMEDIATE")
    try:
        for work, _ in batch:
            db.execute("SAVEPOINT piece")
            try:
                outcomes.append((True, work(db)))
            except Exception as error:
                db.execute("ROLLBACK TO piece")
                outcomes.append((False, error))
            db.execute("RELEASE piece")
        db.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.OperationalError):
            db.execute("ROLLBACK")
        raise
    return outcomes


class SqliteStore(StoreCommon[aiosqlite.Connection]):
    """``Store`` on one SQLite file. Create it with ``await SqliteStore.open(path)``.

    The dialect-independent methods come from ``StoreCommon``; this class supplies the
    primitives they use, on the writer connection described above.
    """

    _moderation_sql = _MODERATION_SQL
    _workspace_sql = _WORKSPACE_SQL

    def __init__(
        self,
        writer: aiosqlite.Connection,
        reader: aiosqlite.Connection,
        *,
        clock: Callable[[], datetime] = utcnow,
        price: Price | None = None,
    ) -> None:
        super().__init__(clock=clock, price=price)
        self._writer = writer
        self._reader = reader
        self._write_lock = asyncio.Lock()
        self._group_commit = _GroupCommit(self)

    @classmethod
    async def open(
        cls,
        path: str | Path,
        *,
        migrations: list[Migration] | None = None,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
        clock: Callable[[], datetime] = utcnow,
        price: Price | None = None,
    ) -> SqliteStore:
        """Connect, bring the schema up to date, and return a ready store.

        The parent folder must exist (``open_store`` creates it). ``price`` is recorded
        as each settled generation's estimated cost (None: no cost recorded).
        """
        if migrations is None:
            migrations = await asyncio.to_thread(load_migrations)
        location = str(path)
        writer = await _connect(location, busy_timeout_ms=busy_timeout_ms, read_only=False)
        try:
            await apply_migrations(writer, migrations)
            reader = await _connect(location, busy_timeout_ms=busy_timeout_ms, read_only=True)
        except BaseException:
            await writer.close()
            raise
        return cls(writer, reader, clock=clock, price=price)

    async def _close_connections(self) -> None:
        await self._reader.close()
        await self._writer.close()

    # -- plumbing ------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _write(self, *, transaction: bool = True) -> AsyncIterator[aiosqlite.Connection]:
        await self._write_lock.acquire()
        release = True
        try:
            if not transaction:
                yield self._writer
                return
            try:
                # Inside the try: a caller that gives up while BEGIN waits for the file
                # lock (the acknowledgement budget) must still queue the ROLLBACK, or
                # the BEGIN would later succeed and leave the connection in a transaction.
                await self._writer.execute("BEGIN IMMEDIATE")
                yield self._writer
                await self._writer.execute("COMMIT")
            except asyncio.CancelledError:
                # The caller gave up, perhaps while the writer thread still waits for the
                # file lock: the ROLLBACK queues behind that wait. Run it in the
                # background, holding the write lock until it is done, so the caller is
                # free at once and no other write can slip in between.
                release = False
                self._track(asyncio.ensure_future(self._roll_back_and_release()))
                raise
            except BaseException:
                # Never leave the shared connection inside a transaction. The ROLLBACK is
                # queued behind whatever the body already sent; "no transaction is
                # active" means the COMMIT had already gone through.
                with contextlib.suppress(sqlite3.OperationalError):
                    await self._writer.execute("ROLLBACK")
                raise
        finally:
            if release:
                self._write_lock.release()

    async def _roll_back_and_release(self) -> None:
        try:
            with contextlib.suppress(sqlite3.OperationalError):
                await self._writer.execute("ROLLBACK")
        finally:
            self._write_lock.release()

    @staticmethod
    async def _fetchall(
        conn: aiosqlite.Connection, sql: str, params: Sequence[Any] | dict[str, Any] = ()
    ) -> list[sqlite3.Row]:
        return list(await conn.execute_fetchall(sql, params))

    async def _fetchone(
        self, conn: aiosqlite.Connection, sql: str, params: Sequence[Any] | dict[str, Any] = ()
    ) -> sqlite3.Row | None:
        rows = await self._fetchall(conn, sql, params)
        return rows[0] if rows else None

    async def _scalar(self, conn: aiosqlite.Connection, sql: str, *args: Any) -> Any:
        row = await self._fetchone(conn, sql, args)
        return None if row is None else row[0]

    async def _read(self, sql: str, *args: Any) -> list[Sequence[Any]]:
        return list(await self._fetchall(self._reader, sql, args))

    async def _write_one(self, sql: str, *args: Any) -> int:
        async with self._write() as conn:
            cursor = await conn.execute(sql, args)
            return cursor.rowcount

    def _ts_param(self, moment: datetime) -> Any:
        return _ts(moment)

    def _ts_value(self, stored: Any) -> datetime | None:
        return _parse_ts(stored)

    def _generation_row(self, row: Sequence[Any]) -> GenerationRecord:
        return _record(row)

    async def _quota_state(
        self,
        conn: aiosqlite.Connection,
        member: MemberContext,
        now: datetime,
        bot_default_limit: int,
    ) -> QuotaState:
        start = day_start(now)
        row = await self._fetchone(
            conn,
            _QUOTA_STATE_SQL,
            {
                "guild": member.guild_id,
                "user": member.user_id,
                "roles": json.dumps([int(role) for role in member.role_ids]),
                "start": _ts(start),
                "end": _ts(start + timedelta(days=1)),
                "day": start.date().isoformat(),
            },
        )
        assert row is not None  # a SELECT without FROM always yields one row
        return QuotaState(row, member, bot_default_limit, decode_limits=_json_limits)

    async def _read_quota_state(
        self, member: MemberContext, moment: datetime, bot_default_limit: int
    ) -> QuotaState:
        return await self._quota_state(self._reader, member, moment, bot_default_limit)

    async def _audit(
        self,
        conn: aiosqlite.Connection,
        guild_id: int,
        actor_id: int,
        action: AuditAction,
        *,
        target_id: int | None = None,
        old: str | None = None,
        new: str | None = None,
        now: datetime | None = None,
    ) -> None:
        await conn.execute(
            "INSERT INTO audit_log"
            " (guild_id, actor_id, action, target_id, old_value, new_value, at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (guild_id, actor_id, action.value, target_id, old, new, _ts(self._now(now))),
        )

    # -- quota and usage log -------------------------------------------------------------

    async def _reserve(
        self,
        member: MemberContext,
        params: GenerationParams,
        *,
        bot_default_limit: int,
        now: datetime | None,
        parent_id: int | None,
        job_limits: JobLimits | None,
        interaction: InteractionRef | None,
        lease: Lease | None,
        locale: str,
        member_locale: str,
        abandoned: threading.Event,
    ) -> Reservation:
        """Check, decide and insert inside ``BEGIN IMMEDIATE`` (see :class:`_GroupCommit`).

        Reservations that arrive together share one transaction, each checked against
        the rows the ones before it inserted, so quotas stay exact and a burst of members
        costs one trip to the writer thread instead of one (or four) each.
        """
        moment = self._now(now)
        resets = reset_at(moment)
        start = day_start(moment)
        quota_args = {
            "guild": member.guild_id,
            "user": member.user_id,
            "roles": json.dumps([int(role) for role in member.role_ids]),
            "start": _ts(start),
            "end": _ts(start + timedelta(days=1)),
            "day": start.date().isoformat(),
        }
        row_values = (
            parent_id,
            member.guild_id,
            member.channel_id,
            member.user_id,
            params.prompt,
            params.width,
            params.height,
            params.size_preset,
            params.steps,
            params.guidance,
            params.acceleration,
            params.seed,
            int(params.safety_checker),
            params.count,
            params.count,
            _ts(moment),
            interaction.token if interaction else None,
            _ts(as_utc(interaction.expires_at)) if interaction else None,
            lease.owner if lease else None,
            _ts(lease.until) if lease else None,
            params.style_name,
            params.style_text,
            (interaction.reach if interaction else Reach.CHANNEL).value,
            locale,
            member_locale,
        )

        def reserve_one(db: sqlite3.Connection) -> Reservation:
            check_abandoned(abandoned)  # its caller gave up while BEGIN waited for the lock
            if job_limits is not None:
                mine, everyone = db.execute(
                    _JOB_LIMITS_SQL, (member.guild_id, member.user_id)
                ).fetchone()
                check_job_limits(int(mine), int(everyone), job_limits)
            row = db.execute(_QUOTA_STATE_SQL, quota_args).fetchone()
            state = QuotaState(row, member, bot_default_limit, decode_limits=_json_limits)
            remaining = check_quota(
                limit=state.limit,
                used=state.used,
                requested=params.count,
                reset_at=resets,
                server_budget=state.server_budget,
                server_used=state.server_used,
            )
            try:
                cursor = db.execute(_INSERT_GENERATION_SQL, row_values)
            except sqlite3.IntegrityError as error:
                if parent_id is not None and "FOREIGN KEY" in str(error):
                    raise GenerationNotFound(f"no generation {parent_id} to derive from") from error
                raise
            assert cursor.lastrowid is not None
            return Reservation(cursor.lastrowid, state.limit, remaining, resets)

        return await self._group_commit.submit(reserve_one)

    async def _begin_delivery(
        self, generation_id: int, moment: datetime, message_id: int | None, owner: str | None
    ) -> bool:
        return await self._updated_one(
            "UPDATE generations SET delivery_started_at = COALESCE(delivery_started_at, ?),"
            " message_id = COALESCE(?, message_id) WHERE id = ?"
            " AND status IN ('queued', 'running') AND (delivery_started_at IS NULL"
            " OR (? IS NOT NULL AND owner = ?))",
            (_ts(moment), message_id, generation_id, owner, owner),
        )

    async def _updated_one(self, sql: str, values: tuple[Any, ...]) -> bool:
        """A conditional UPDATE of one row in the writer's group commit (see :meth:`_settle`);
        True if it took the row."""
        return await self._group_commit.submit(
            lambda db: bool(db.execute(sql, values).rowcount == 1)
        )

    async def _record_post(self, generation_id: int, message_id: int) -> bool:
        return await self._updated_one(
            "UPDATE generations SET posted_message_id = ? WHERE id = ?"
            " AND status IN ('queued', 'running') AND delivery_started_at IS NOT NULL",
            (message_id, generation_id),
        )

    async def in_flight(self, guild_id: int | None = None) -> list[GenerationRecord]:
        where = "status IN ('queued', 'running')"
        params: tuple[int, ...] = ()
        if guild_id is not None:
            where += " AND guild_id = ?"
            params = (guild_id,)
        rows = await self._fetchall(
            self._reader,
            f"SELECT {GENERATION_COLUMNS} FROM generations WHERE {where} ORDER BY id",
            params,
        )
        return [_record(row) for row in rows]

    # -- leases (which process runs an in-flight job) -------------------------------------

    async def renew_leases(self, owner: str, until: datetime) -> int:
        lease = Lease(owner, until)
        async with self._write(transaction=False) as conn:
            cursor = await conn.execute(
                "UPDATE generations SET lease_until = ?"
                " WHERE status IN ('queued', 'running') AND owner = ?",
                (_ts(lease.until), lease.owner),
            )
            return cursor.rowcount

    async def claim(
        self,
        generation_id: int,
        *,
        previous_owner: str | None,
        owner: str,
        until: datetime,
        now: datetime | None = None,
    ) -> bool:
        """One conditional UPDATE: under the file's write lock, exactly one claimer matches.

        ``owner IS ?`` is SQLite's NULL-safe equality, so None claims an ownerless row.
        """
        lease = Lease(owner, until)
        async with self._write(transaction=False) as conn:
            cursor = await conn.execute(
                "UPDATE generations SET owner = ?, lease_until = ?"
                " WHERE id = ? AND status IN ('queued', 'running') AND owner IS ?"
                " AND (lease_until IS NULL OR lease_until <= ?)",
                (
                    lease.owner,
                    _ts(lease.until),
                    generation_id,
                    previous_owner,
                    _ts(self._now(now)),
                ),
            )
            return cursor.rowcount == 1

    async def expire_leases(self, owner: str, now: datetime | None = None) -> int:
        moment = _ts(self._now(now))
        async with self._write(transaction=False) as conn:
            cursor = await conn.execute(
                "UPDATE generations SET lease_until = CASE"
                " WHEN lease_until IS NOT NULL AND lease_until < :now THEN lease_until"
                " ELSE :now END"
                " WHERE status IN ('queued', 'running') AND owner = :owner",
                {"now": moment, "owner": owner},
            )
            return cursor.rowcount

    async def _settle(
        self, generation_id: int, action: str, sql: str, params: dict[str, Any]
    ) -> None:
        """Run a lifecycle UPDATE guarded by the statuses it may leave; explain a miss.

        It goes through the writer's group commit like a reservation: in a burst, the
        jobs settling together share one hand-off to the writer thread and one
        transaction (each under its own savepoint), and each caller hears back only
        after the COMMIT, so "settled" still means written.
        """
        values = {"id": generation_id, **params}

        def settle(db: sqlite3.Connection) -> None:
            if db.execute(sql, values).rowcount == 1:
                return
            row = db.execute(
                "SELECT status, count FROM generations WHERE id = ?", (generation_id,)
            ).fetchone()
            explain_settle_miss(generation_id, action, row, delivered=params.get("delivered"))

        await self._group_commit.submit(settle)

    async def mark_running(self, generation_id: int, now: datetime | None = None) -> None:
        await self._settle(
            generation_id,
            "start",
            "UPDATE generations SET status = 'running', started_at = :now"
            " WHERE id = :id AND status = 'queued'",
            {"now": _ts(self._now(now))},
        )

    async def complete(
        self,
        generation_id: int,
        *,
        delivered: int,
        latency_ms: int,
        message_id: int | None = None,
        now: datetime | None = None,
    ) -> None:
        if delivered < 0:
            raise ValueError("delivered cannot be negative")
        await self._settle(
            generation_id,
            "complete",
            "UPDATE generations SET"
            " status = CASE WHEN :delivered > 0 THEN 'succeeded' ELSE 'failed' END,"
            " error_class = CASE WHEN :delivered > 0 THEN NULL ELSE 'no_images' END,"
            " reserved = 0, delivered = :delivered, latency_ms = :latency,"
            " message_id = :message, finished_at = :now, interaction_token = NULL,"
            " cost_pico_usd = width * height * :delivered * :price"
            " WHERE id = :id AND status IN ('queued', 'running') AND :delivered <= count",
            {
                "delivered": delivered,
                "latency": latency_ms,
                "message": message_id,
                "now": _ts(self._now(now)),
                "price": self._price_micro,
            },
        )

    async def _finish_without_images(
        self,
        generation_id: int,
        status: str,
        error_class: str | None,
        action: str,
        now: datetime | None,
    ) -> None:
        await self._settle(
            generation_id,
            action,
            "UPDATE generations SET status = :status, error_class = :error, reserved = 0,"
            " finished_at = :now, interaction_token = NULL, cost_pico_usd = :price * 0"
            " WHERE id = :id AND status IN ('queued', 'running')",
            {
                "status": status,
                "error": error_class,
                "now": _ts(self._now(now)),
                "price": self._price_micro,  # nothing delivered costs 0 (NULL: no price)
            },
        )

    async def release_orphans(self, now: datetime | None = None) -> int:
        """Fail every in-flight row as "interrupted". Call once at startup, before serving.

        With one bot process per database every in-flight row at startup belongs to a
        process that died. (Processes sharing a database take over a dead one's jobs
        through leases instead: ``claim``.)
        """
        async with self._write(transaction=False) as conn:
            cursor = await conn.execute(
                "UPDATE generations SET status = 'failed', error_class = 'interrupted',"
                " reserved = 0, finished_at = ?, interaction_token = NULL"
                " WHERE status IN ('queued', 'running')",
                (_ts(self._now(now)),),
            )
            return cursor.rowcount

    async def get_generation(self, generation_id: int) -> GenerationRecord | None:
        conn = self._reader
        row = await self._fetchone(
            conn,
            f"SELECT {GENERATION_COLUMNS} FROM generations WHERE id = ?",
            (generation_id,),
        )
        return None if row is None else _record(row)

    # -- moderator settings --------------------------------------------------------------

    async def _set_keyed_limit(
        self,
        table: str,
        key_column: str,
        guild_id: int,
        key: int,
        limit: int | None,
        *,
        actor_id: int,
        action: AuditAction,
    ) -> int | None:
        limit = validate_limit(limit)
        async with self._write() as conn:
            row = await self._fetchone(
                conn,
                f"SELECT daily_limit FROM {table} WHERE guild_id = ? AND {key_column} = ?",
                (guild_id, key),
            )
            old: int | None = None if row is None else int(row[0])
            if old == limit:
                return old
            if limit is None:
                await conn.execute(
                    f"DELETE FROM {table} WHERE guild_id = ? AND {key_column} = ?", (guild_id, key)
                )
            else:
                await conn.execute(
                    f"INSERT INTO {table} (guild_id, {key_column}, daily_limit) VALUES (?, ?, ?)"
                    f" ON CONFLICT (guild_id, {key_column})"
                    " DO UPDATE SET daily_limit = excluded.daily_limit",
                    (guild_id, key, limit),
                )
            await self._audit(
                conn,
                guild_id,
                actor_id,
                action,
                target_id=key,
                old=limit_text(old),
                new=limit_text(limit),
            )
        return old

    async def _set_guild_setting(
        self,
        guild_id: int,
        column: str,
        value: int | bool | str | None,
        *,
        actor_id: int,
        action: AuditAction,
        render: Callable[[Any], str | None],
    ) -> int | str | None:
        if column not in GUILD_SETTING_COLUMNS:  # the column name is interpolated below
            raise ValueError(f"unknown guild setting {column!r}")
        if isinstance(value, bool):
            value = int(value)  # SQLite has no boolean: 0/1
        async with self._write() as conn:
            row = await self._fetchone(
                conn, f"SELECT {column} FROM guild_settings WHERE guild_id = ?", (guild_id,)
            )
            old: int | str | None = None if row is None else row[0]
            if old == value:
                return old
            await conn.execute(
                f"INSERT INTO guild_settings (guild_id, {column}) VALUES (?, ?)"
                f" ON CONFLICT (guild_id) DO UPDATE SET {column} = excluded.{column}",
                (guild_id, value),
            )
            await self._audit(conn, guild_id, actor_id, action, old=render(old), new=render(value))
        return old

    async def reset_member_usage(
        self, guild_id: int, user_id: int, *, actor_id: int, now: datetime | None = None
    ) -> int:
        moment = self._now(now)
        member = MemberContext(guild_id=guild_id, channel_id=0, user_id=user_id)
        async with self._write() as conn:
            # bot_default_limit does not affect `used`, which is all we need here.
            state = await self._quota_state(conn, member, moment, bot_default_limit=0)
            row = await self._fetchone(conn, "SELECT COALESCE(MAX(id), 0) FROM generations")
            watermark = 0 if row is None else int(row[0])
            await conn.execute(
                "INSERT INTO usage_resets (guild_id, user_id, after_generation_id, at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (guild_id, user_id) DO UPDATE SET"
                " after_generation_id = excluded.after_generation_id, at = excluded.at",
                (guild_id, user_id, watermark, _ts(moment)),
            )
            await self._audit(
                conn,
                guild_id,
                actor_id,
                AuditAction.RESET_USAGE,
                target_id=user_id,
                old=str(state.used),
                new="0",
                now=moment,
            )
        return state.used

    async def _toggle(
        self,
        sql: str,
        params: tuple[int | str, ...],
        *,
        guild_id: int,
        actor_id: int,
        action: AuditAction,
        target_id: int | None = None,
        old: str | None = None,
        new: str | None = None,
        before: Callable[[aiosqlite.Connection], Awaitable[None]] | None = None,
    ) -> bool:
        async with self._write() as conn:
            if before is not None:
                await before(conn)
            cursor = await conn.execute(sql, params)
            changed = cursor.rowcount > 0
            if changed:
                await self._audit(
                    conn, guild_id, actor_id, action, target_id=target_id, old=old, new=new
                )
        return changed

    async def block_word(self, guild_id: int, word: str, *, actor_id: int) -> bool:
        """Block a word or phrase (stored normalised). Refuses past MAX_BLOCKED_WORDS_PER_GUILD."""
        return await self._block_word(
            guild_id, word, actor_id=actor_id, cap=MAX_BLOCKED_WORDS_PER_GUILD
        )

    async def _read_guild_policy(self, guild_id: int, began: Began) -> GuildPolicy:
        # One statement, so one consistent snapshot and one round trip: this runs before
        # every /imagine defers. ``began`` in the reader's thread, as the statement starts.
        def query(db: sqlite3.Connection) -> Any:
            began()
            return db.execute(_GUILD_POLICY_SQL, {"guild": guild_id}).fetchone()

        row = await _in_writer_thread(self._reader, query)
        assert row is not None
        return guild_policy_from_row(
            guild_id, row, decode_limits=_json_limits, decode_list=_json_list
        )

    async def audit_log(self, guild_id: int, *, limit: int = 10) -> list[AuditEntry]:
        conn = self._reader
        rows = await self._fetchall(
            conn,
            "SELECT id, guild_id, actor_id, action, target_id, old_value, new_value, at"
            " FROM audit_log WHERE guild_id = ? ORDER BY id DESC LIMIT ?",
            (guild_id, max(0, limit)),
        )
        return [audit_entry(row, _parse_ts) for row in rows]

    # -- statistics ----------------------------------------------------------------------

    def _window(self, days: int, now: datetime | None) -> tuple[str, str, date]:
        start, end = day_window(self._now(now), days)
        return _ts(start), _ts(end), start.date()

    def _stats_args(self, guild_id: int, days: int, now: datetime | None) -> dict[str, Any]:
        start, end = day_window(self._now(now), days)
        return {
            "guild": guild_id,
            "start": _ts(start),
            "end": _ts(end),
            "first_day": start.date().isoformat(),
            "end_day": end.date().isoformat(),
        }

    async def daily_totals(
        self, guild_id: int, *, days: int, now: datetime | None = None
    ) -> list[DailyTotal]:
        args = self._stats_args(guild_id, days, now)
        rows = await self._fetchall(self._reader, _DAILY_TOTALS_SQL, args)
        first_day = date.fromisoformat(args["first_day"])
        return daily_totals_from_rows(rows, first_day, days, parse_day=date.fromisoformat)

    async def top_members(
        self, guild_id: int, *, days: int, limit: int = 10, now: datetime | None = None
    ) -> list[MemberTotal]:
        args = {**self._stats_args(guild_id, days, now), "limit": max(0, limit)}
        return member_totals_from_rows(await self._fetchall(self._reader, _TOP_MEMBERS_SQL, args))

    async def export_usage(
        self, guild_id: int, *, days: int, now: datetime | None = None
    ) -> list[GenerationRecord]:
        start, end, _ = self._window(days, now)
        conn = self._reader
        rows = await self._fetchall(
            conn,
            f"SELECT {GENERATION_COLUMNS} FROM generations"
            " WHERE guild_id = ? AND created_at >= ? AND created_at < ? ORDER BY id",
            (guild_id, start, end),
        )
        # A year of a busy server is ~10^5 rows, ~1 s of Python: not on the event loop.
        return await asyncio.to_thread(lambda: [_record(row) for row in rows])

    # -- retention -----------------------------------------------------------------------

    async def prune_generations(self, before: datetime, *, limit: int) -> PruneBatch:
        """Delete, fold into ``usage_archive`` and commit, as one short write transaction."""
        async with self._write() as conn:
            deleted = await self._fetchall(
                conn, _PRUNE_GENERATIONS_SQL, {"before": _ts(before), "limit": max(1, limit)}
            )
            folded = fold_pruned(deleted)
            if folded:
                await conn.executemany(_ARCHIVE_UPSERT_SQL, folded)
        return PruneBatch(deleted=len(deleted), more=len(deleted) >= limit)

    async def prune_audit_log(self, before: datetime, *, limit: int) -> PruneBatch:
        async with self._write(transaction=False) as conn:
            cursor = await conn.execute(
                "DELETE FROM audit_log WHERE id IN"
                " (SELECT id FROM audit_log WHERE at < ? ORDER BY id LIMIT ?)",
                (_ts(before), max(1, limit)),
            )
            deleted = max(0, cursor.rowcount)
        return PruneBatch(deleted=deleted, more=deleted >= limit)


def _record(row: Sequence[Any]) -> GenerationRecord:
    return generation_record(row, _parse_ts)
