"""The PostgreSQL implementation of ``Store`` (asyncpg; one connection pool per store).

Why PostgreSQL at all: several bot processes (shards) can share one database, and quotas
must stay exact across them. Everything below is about that.

Atomic reservations across processes: a per-guild advisory lock
    ``reserve`` must read the member's and the server's usage, decide, and insert the
    reservation as one step, even when the competing request runs in another process.
    Each ``reserve`` transaction first takes ``pg_advisory_xact_lock(key(guild))`` in its
    own statement, then reads the quota state, then inserts. The lock is released only
    when the transaction ends, after its commit is visible, and under READ COMMITTED
    every later statement takes a fresh snapshot. So the holder always reads every
    reservation committed before it, and no competing reservation can commit between
    its read and its insert: two requests racing for the last image are simply ordered,
    exactly one gets it. (Taking the lock in the same statement as the read would not
    work: a statement's snapshot is taken before it waits.)

    Why per guild and not per member: the server-wide daily budget is shared by every
    member of the guild, so a per-member lock would let two members overdraw it. And a
    guild's reservations already serialise on its ``guild_daily_usage`` counter row (the
    trigger of migration 0003 updates it and holds its row lock until commit), so the
    guild lock does not create a new bottleneck; it widens the ordered section from
    "insert to commit" to "read to commit" (two more round trips). Guilds never wait for
    each other. ``python -m bench.quota_bench --database-url …`` measures the worst case,
    hundreds of members of one guild at once.

    Why not SERIALIZABLE: the conflicting reads are sums over ranges, so under a burst
    (the 100-requests test) most transactions would abort with serialization failures
    and have to retry, with latency depending on luck. The lock gives the same guarantee
    with a deterministic queue and no retry loop, and it is explicit in the code.

    A request that does not fit even before taking the lock is refused right there: the
    refusal is correct as of the committed state it read, and it writes nothing. So
    members who keep asking past their limit never queue behind the guild lock.

    Only operations that can *raise* a charge need the lock, and only ``reserve`` does:
    ``complete`` (delivered ≤ reserved), ``fail``, ``cancel`` and ``release_orphans``
    can only lower one, so racing them with a reservation at worst makes that
    reservation conservative. ``reset_member_usage`` takes the same lock so its id
    watermark is ordered with the member's reservations: everything committed before it
    is forgiven, everything after has a larger id (identity values only grow).

    Job limits (``reserve(job_limits=…)``): the per-member count of in-flight jobs is
    exact under the guild lock. The whole-queue limit counts every guild's jobs, so when
    it is set ``reserve`` also takes one global queue lock; that orders all reservations
    of the database, which is the price of an exact global limit. Locks are always taken
    in ascending key order, so holders of two locks cannot deadlock.

    Moderator settings take a separate per-guild lock so the audited "old value" of two
    simultaneous changes is exact and the blocked-word cap cannot be overshot; they never
    wait for reservations.

Reads
    ``usage``, ``guild_policy``, statistics and exports are each one statement on any
    pooled connection, so each is a consistent snapshot without a transaction.

Timeouts
    Every connection attempt, pool acquisition and statement has a deadline
    (``command_timeout``), so a lost server or a lock held by a stuck process surfaces as
    an error, never a hang.

Durability
    Commits follow the server's ``synchronous_commit`` (on by default). Unlike SQLite's
    file, a bot process that dies never loses a commit; an operator who prefers speed over
    the last few commits of a *server* crash can add ``?synchronous_commit=off`` to
    DATABASE_URL (asyncpg passes unknown URL parameters on as server settings).

Job ownership: leases
    With several processes on one database, each in-flight row names its ``owner`` and a
    ``lease_until`` the owner keeps moving forward (migration 0005). ``claim`` is one
    conditional UPDATE on the owner it saw and on the lease having passed: concurrent
    claimers of one row queue on its row lock, and each re-checks the condition against
    the winner's committed row (READ COMMITTED), so exactly one takes it. ``renew_leases``
    and ``expire_leases`` lock their rows in id order first, like ``release_orphans``, so
    they cannot deadlock with it or with each other.

Limits of this version
    ``release_orphans`` has the SQLite semantics: it fails *every* in-flight generation,
    whoever owns it. A process sharing the database with others must not call it; it
    takes over dead processes' jobs with ``claim`` instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any, Final

import asyncpg

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
    StoreError,
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
from bot.store.locks import LocalGates, advisory_key
from bot.store.migrate import POSTGRES_MIGRATIONS_DIR, Migration, load_migrations
from bot.store.migrate_postgres import apply_postgres_migrations
from bot.store.pgurl import describe, normalise, scrub

__all__ = ["DEFAULT_TIMEOUT_SECONDS", "MAX_BLOCKED_WORDS_PER_GUILD", "PostgresStore"]

DEFAULT_TIMEOUT_SECONDS: Final = 10.0
MAX_BLOCKED_WORDS_PER_GUILD: Final = 1_000
"""Every prompt is matched against the whole list before deferring; keep that fast."""

# Everything the quota decision needs, in one statement. Role limits come back as
# [role_id, limit] pairs of only the member's roles; the pure policy function picks among
# them, so there is one implementation of the resolution order.
_QUOTA_STATE_SQL = """
SELECT
    (SELECT daily_limit FROM member_limits WHERE guild_id = $1 AND user_id = $2),
    (SELECT array_agg(ARRAY[role_id, daily_limit]) FROM role_limits
      WHERE guild_id = $1 AND role_id = ANY($3::bigint[])),
    (SELECT default_limit FROM guild_settings WHERE guild_id = $1),
    (SELECT server_budget FROM guild_settings WHERE guild_id = $1),
    (SELECT COALESCE(SUM(reserved + delivered), 0) FROM generations
      WHERE guild_id = $1 AND user_id = $2 AND created_at >= $4 AND created_at < $5
        AND id > COALESCE((SELECT after_generation_id FROM usage_resets
                            WHERE guild_id = $1 AND user_id = $2), 0)),
    (SELECT images FROM guild_daily_usage WHERE guild_id = $1 AND day = $6)
"""

# COLLATE "C" sorts words bytewise, as SQLite does, whatever the database's locale.
_GUILD_POLICY_SQL = """
SELECT
    (SELECT default_limit FROM guild_settings WHERE guild_id = $1),
    (SELECT server_budget FROM guild_settings WHERE guild_id = $1),
    (SELECT nsfw_safety FROM guild_settings WHERE guild_id = $1),
    (SELECT array_agg(ARRAY[role_id, daily_limit]) FROM role_limits WHERE guild_id = $1),
    (SELECT array_agg(ARRAY[user_id, daily_limit]) FROM member_limits WHERE guild_id = $1),
    ARRAY(SELECT channel_id FROM allowed_channels WHERE guild_id = $1),
    ARRAY(SELECT word FROM blocked_words WHERE guild_id = $1 ORDER BY word COLLATE "C"),
    (SELECT log_channel_id FROM guild_settings WHERE guild_id = $1),
    (SELECT language FROM guild_settings WHERE guild_id = $1)
"""

# Statistics read the live rows and the totals of pruned ones (usage_archive, 0008) in
# one statement, so a pruning batch (one transaction) is never counted twice or not at
# all. $2/$3 bound created_at, $4/$5 the archive's days.
_DAILY_TOTALS_SQL = """
SELECT day, SUM(images)::bigint, SUM(generations)::bigint, SUM(failures)::bigint,
       SUM(cost)::bigint
FROM (
    SELECT (created_at AT TIME ZONE 'UTC')::date AS day, SUM(reserved + delivered) AS images,
           COUNT(*) AS generations, COUNT(*) FILTER (WHERE status = 'failed') AS failures,
           COALESCE(SUM(cost_pico_usd), 0) AS cost
    FROM generations WHERE guild_id = $1 AND created_at >= $2 AND created_at < $3
    GROUP BY 1
    UNION ALL
    SELECT day, SUM(images), SUM(generations), SUM(failures), SUM(cost_pico_usd)
    FROM usage_archive WHERE guild_id = $1 AND day >= $4 AND day < $5
    GROUP BY day
) AS both_sources GROUP BY day
"""

_TOP_MEMBERS_SQL = """
SELECT user_id, SUM(images)::bigint AS images, SUM(requests)::bigint AS requests,
       SUM(cost)::bigint
FROM (
    SELECT user_id, SUM(reserved + delivered) AS images, COUNT(*) AS requests,
           COALESCE(SUM(cost_pico_usd), 0) AS cost
    FROM generations WHERE guild_id = $1 AND created_at >= $2 AND created_at < $3
    GROUP BY user_id
    UNION ALL
    SELECT user_id, SUM(images), SUM(generations), SUM(cost_pico_usd)
    FROM usage_archive WHERE guild_id = $1 AND day >= $4 AND day < $5
    GROUP BY user_id
) AS both_sources
GROUP BY user_id ORDER BY images DESC, requests DESC, user_id LIMIT $6
"""

# One pruning batch: the oldest settled rows before $1 (rows another transaction holds
# are skipped, not waited for), deleted and returned so the same transaction folds
# exactly them into usage_archive.
_PRUNE_GENERATIONS_SQL = """
DELETE FROM generations WHERE id IN (
    SELECT id FROM generations
    WHERE created_at < $1 AND status NOT IN ('queued', 'running')
    ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED
)
RETURNING guild_id, (created_at AT TIME ZONE 'UTC')::date, user_id, reserved + delivered,
          status, cost_pico_usd
"""

_ARCHIVE_UPSERT_SQL = """
INSERT INTO usage_archive AS archive
    (guild_id, day, user_id, images, generations, failures, cost_pico_usd)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (guild_id, day, user_id) DO UPDATE SET
    images = archive.images + EXCLUDED.images,
    generations = archive.generations + EXCLUDED.generations,
    failures = archive.failures + EXCLUDED.failures,
    cost_pico_usd = archive.cost_pico_usd + EXCLUDED.cost_pico_usd
"""

_INSERT_GENERATION_SQL = """
INSERT INTO generations (parent_id, guild_id, channel_id, user_id, prompt, width, height,
    size_preset, steps, guidance, acceleration, seed, safety_checker, count, status,
    reserved, delivered, created_at, interaction_token, token_expires_at, owner, lease_until,
    style_name, style_text, reach, locale, member_locale)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 'queued', $14, 0, $15,
    $16, $17, $18, $19, $20, $21, $22, $23, $24)
RETURNING id
"""

# Both lock the owner's in-flight rows in id order before changing them (the CTE's FOR
# UPDATE follows its ORDER BY), as release_orphans does, so no two of them can deadlock.
# A row claimed away meanwhile is re-checked after its lock and skipped.
_RENEW_LEASES_SQL = """
WITH mine AS (
    SELECT id FROM generations
    WHERE status IN ('queued', 'running') AND owner = $1
    ORDER BY id FOR UPDATE
)
UPDATE generations SET lease_until = $2 FROM mine WHERE generations.id = mine.id
"""

_EXPIRE_LEASES_SQL = """
WITH mine AS (
    SELECT id FROM generations
    WHERE status IN ('queued', 'running') AND owner = $1
    ORDER BY id FOR UPDATE
)
UPDATE generations SET lease_until = LEAST(lease_until, $2)
FROM mine WHERE generations.id = mine.id
"""

_WORKSPACE_SQL: Final = WorkspaceSql(
    get_preferences=f"SELECT {PREFERENCE_COLUMNS} FROM member_preferences"
    " WHERE scope_id = $1 AND user_id = $2",
    put_preferences=f"INSERT INTO member_preferences (scope_id, user_id, {PREFERENCE_COLUMNS},"
    " updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    " ON CONFLICT (scope_id, user_id) DO UPDATE SET size_preset = excluded.size_preset,"
    " width = excluded.width, height = excluded.height, steps = excluded.steps,"
    " guidance = excluded.guidance, acceleration = excluded.acceleration,"
    " count = excluded.count, style = excluded.style, updated_at = excluded.updated_at",
    delete_preferences="DELETE FROM member_preferences WHERE scope_id = $1 AND user_id = $2",
    list_styles="SELECT name, text, created_by, created_at FROM guild_styles"
    " WHERE guild_id = $1 ORDER BY name_key",
    get_style="SELECT name, text, created_by, created_at FROM guild_styles"
    " WHERE guild_id = $1 AND name_key = $2",
    get_style_text="SELECT text FROM guild_styles WHERE guild_id = $1 AND name_key = $2",
    count_styles="SELECT COUNT(*) FROM guild_styles WHERE guild_id = $1",
    put_style="INSERT INTO guild_styles (guild_id, name_key, name, text, created_by, created_at)"
    " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (guild_id, name_key) DO UPDATE SET"
    " name = excluded.name, text = excluded.text, created_by = excluded.created_by,"
    " created_at = excluded.created_at",
    delete_style="DELETE FROM guild_styles WHERE guild_id = $1 AND name_key = $2",
    history=f"SELECT {GENERATION_COLUMNS} FROM generations WHERE guild_id = $1 AND user_id = $2"
    " ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4",
    count_history="SELECT COUNT(*) FROM generations WHERE guild_id = $1 AND user_id = $2",
)

_MODERATION_SQL: Final = ModerationSql(
    allow_channel="INSERT INTO allowed_channels (guild_id, channel_id) VALUES ($1, $2)"
    " ON CONFLICT DO NOTHING",
    disallow_channel="DELETE FROM allowed_channels WHERE guild_id = $1 AND channel_id = $2",
    block_word="INSERT INTO blocked_words (guild_id, word) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    unblock_word="DELETE FROM blocked_words WHERE guild_id = $1 AND word = $2",
    count_blocked_words="SELECT COUNT(*) FROM blocked_words WHERE guild_id = $1",
    word_is_blocked="SELECT 1 FROM blocked_words WHERE guild_id = $1 AND word = $2",
)
_KEYED_LIMIT_TABLES: Final = frozenset({("member_limits", "user_id"), ("role_limits", "role_id")})


def _rowcount(status: str) -> int:
    """Rows a command touched, from asyncpg's status tag ("UPDATE 3", "INSERT 0 1")."""
    return int(status.rsplit(" ", 1)[-1])


def _pairs(value: Any) -> dict[int, int]:
    """A 2-D ``bigint[]`` of [key, value] rows (NULL when there are none) as a dict."""
    return {int(key): int(limit) for key, limit in (value or ())}


class PostgresStore(StoreCommon[Any]):
    """``Store`` on one PostgreSQL schema. Create it with ``await PostgresStore.open(url)``.

    The dialect-independent methods come from ``StoreCommon``; this class supplies the
    primitives they use, with the locking described above. (asyncpg is untyped, so its
    connections are ``Any``.)
    """

    _moderation_sql = _MODERATION_SQL
    _workspace_sql = _WORKSPACE_SQL

    def __init__(
        self,
        pool: Any,
        *,
        schema: str,
        clock: Callable[[], datetime] = utcnow,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        price: Price | None = None,
    ) -> None:
        super().__init__(clock=clock, price=price)
        self._pool = pool
        self._schema = schema
        self._timeout = timeout
        self._gates = LocalGates()

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        migrations: list[Migration] | None = None,
        schema: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        command_timeout: float = DEFAULT_TIMEOUT_SECONDS,
        price: Price | None = None,
    ) -> PostgresStore:
        """Connect a pool, bring the schema up to date, and return a ready store.

        ``schema`` puts every table in that (existing) schema via the connections'
        ``search_path``; by default the server's search_path applies (normally
        ``public``). ``command_timeout`` bounds each connection attempt, pool
        acquisition and statement. Errors never contain the URL's password.
        """
        if migrations is None:
            migrations = await asyncio.to_thread(load_migrations, POSTGRES_MIGRATIONS_DIR)
        server_settings = {"application_name": "imagine-bot"}
        if schema is not None:
            server_settings["search_path"] = '"' + schema.replace('"', '""') + '"'
        try:
            pool = await asyncpg.create_pool(
                normalise(url),
                min_size=min_size,
                max_size=max_size,
                timeout=command_timeout,  # per connection attempt
                command_timeout=command_timeout,  # default for every statement
                server_settings=server_settings,
            )
        except Exception as error:  # the driver's error types vary; the message must not
            raise StoreError(
                f"cannot connect to PostgreSQL at {describe(url)}: "
                f"{type(error).__name__}: {scrub(str(error), url)}"
            ) from None
        try:
            async with pool.acquire(timeout=command_timeout) as conn:
                await apply_postgres_migrations(conn, migrations)
                current_schema = str(await conn.fetchval("SELECT current_schema()"))
        except BaseException:
            pool.terminate()
            raise
        return cls(pool, schema=current_schema, clock=clock, timeout=command_timeout, price=price)

    async def _close_connections(self) -> None:
        try:
            await asyncio.wait_for(self._pool.close(), self._timeout)
        except TimeoutError:
            self._pool.terminate()  # a connection was never given back; do not hang shutdown

    @property
    def schema(self) -> str:
        """The schema the tables live in (the lock keys are scoped to it)."""
        return self._schema

    # -- plumbing ------------------------------------------------------------------------

    def _lock_key(self, purpose: str, guild_id: int) -> int:
        return advisory_key(self._schema, purpose, guild_id)

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        async with self._pool.acquire(timeout=self._timeout) as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def _transaction(self, *lock_keys: int) -> AsyncIterator[Any]:
        """A READ COMMITTED transaction that first takes the given advisory locks.

        Each lock is its own statement, before anything is read, so every later read
        sees what the previous holder committed. Keys are taken in sorted order so two
        transactions needing the same locks cannot deadlock.

        What happens while a lock is held is kept to a minimum, because a busy guild's
        reservations queue behind it: the in-process gate for each key (``LocalGates``)
        is taken before a connection is borrowed and given up before the connection goes
        back to the pool (whose reset costs a round trip), and BEGIN travels with the
        lock statements in one message. Keys are integers computed here, never user
        input, so formatting them into that message is safe.
        """
        keys = sorted(set(lock_keys))
        opening = "; ".join(["BEGIN", *(f"SELECT pg_advisory_xact_lock({int(k)})" for k in keys)])
        conn: Any = None
        try:
            async with self._gates.hold(keys):
                conn = await self._pool.acquire(timeout=self._timeout)
                await conn.execute(opening)
                try:
                    yield conn
                except BaseException:
                    # If even this fails, the pool's reset on release rolls back.
                    with contextlib.suppress(Exception):
                        await conn.execute("ROLLBACK")
                    raise
                await conn.execute("COMMIT")
        finally:
            if conn is not None:
                await self._pool.release(conn, timeout=self._timeout)

    async def _scalar(self, conn: Any, sql: str, *args: Any) -> Any:
        return await conn.fetchval(sql, *args)

    async def _read(self, sql: str, *args: Any) -> list[Sequence[Any]]:
        async with self._connection() as conn:
            return [tuple(row) for row in await conn.fetch(sql, *args)]

    async def _write_one(self, sql: str, *args: Any) -> int:
        # A member's own row: no advisory lock to take, the row lock is enough.
        async with self._transaction() as conn:
            return _rowcount(await conn.execute(sql, *args))

    def _ts_param(self, moment: datetime) -> Any:
        return as_utc(moment)

    def _ts_value(self, stored: Any) -> datetime | None:
        return None if stored is None else as_utc(stored)

    def _generation_row(self, row: Sequence[Any]) -> GenerationRecord:
        return _record(row)

    async def _quota_state(
        self, conn: Any, member: MemberContext, now: datetime, bot_default_limit: int
    ) -> QuotaState:
        start = day_start(now)
        row = await conn.fetchrow(
            _QUOTA_STATE_SQL,
            member.guild_id,
            member.user_id,
            [int(role) for role in member.role_ids],
            start,
            start + timedelta(days=1),
            start.date(),
        )
        return QuotaState(tuple(row), member, bot_default_limit, decode_limits=_pairs)

    async def _read_quota_state(
        self, member: MemberContext, moment: datetime, bot_default_limit: int
    ) -> QuotaState:
        async with self._connection() as conn:
            return await self._quota_state(conn, member, moment, bot_default_limit)

    async def _audit(
        self,
        conn: Any,
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
            " VALUES ($1, $2, $3, $4, $5, $6, $7)",
            guild_id,
            actor_id,
            action.value,
            target_id,
            old,
            new,
            self._now(now),
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
        """Decide without the lock first, then again and insert under the guild lock."""
        moment = self._now(now)
        admit = functools.partial(
            self._admit,
            member=member,
            requested=params.count,
            moment=moment,
            bot_default_limit=bot_default_limit,
            job_limits=job_limits,
        )
        # Refusals first, without the lock: a request that does not fit in a committed
        # state may be refused as of that state (it writes nothing, so no other request
        # can tell). Members who keep asking past their limit then never queue behind
        # the guild lock, nor delay the members who still have images left.
        async with self._connection() as conn:
            await admit(conn)
        locks = [self._lock_key("quota", member.guild_id)]
        if job_limits is not None and job_limits.queue is not None:
            locks.append(advisory_key(self._schema, "queue"))
        async with self._transaction(*locks) as conn:
            state, remaining = await admit(conn)  # again: only this decision is exact
            check_abandoned(abandoned)  # its caller gave up while the locks were awaited
            try:
                generation_id = await conn.fetchval(
                    _INSERT_GENERATION_SQL,
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
                    params.safety_checker,
                    params.count,
                    moment,
                    None if interaction is None else interaction.token,
                    None if interaction is None else as_utc(interaction.expires_at),
                    None if lease is None else lease.owner,
                    None if lease is None else as_utc(lease.until),
                    params.style_name,
                    params.style_text,
                    (Reach.CHANNEL if interaction is None else interaction.reach).value,
                    locale,
                    member_locale,
                )
            except asyncpg.ForeignKeyViolationError as error:
                raise GenerationNotFound(f"no generation {parent_id} to derive from") from error
        return Reservation(int(generation_id), state.limit, remaining, reset_at(moment))

    async def _admit(
        self,
        conn: Any,
        *,
        member: MemberContext,
        requested: int,
        moment: datetime,
        bot_default_limit: int,
        job_limits: JobLimits | None,
    ) -> tuple[QuotaState, int]:
        """Raise JobLimitReached or QuotaExceeded, or return the state and what remains."""
        if job_limits is not None:
            await self._check_job_limits(conn, member, job_limits)
        state = await self._quota_state(conn, member, moment, bot_default_limit)
        remaining = check_quota(
            limit=state.limit,
            used=state.used,
            requested=requested,
            reset_at=reset_at(moment),
            server_budget=state.server_budget,
            server_used=state.server_used,
        )
        return state, remaining

    @staticmethod
    async def _check_job_limits(conn: Any, member: MemberContext, limits: JobLimits) -> None:
        row = await conn.fetchrow(
            "SELECT COUNT(*) FILTER (WHERE guild_id = $1 AND user_id = $2), COUNT(*)"
            " FROM generations WHERE status IN ('queued', 'running')",
            member.guild_id,
            member.user_id,
        )
        check_job_limits(int(row[0]), int(row[1]), limits)

    async def _begin_delivery(
        self, generation_id: int, moment: datetime, message_id: int | None, owner: str | None
    ) -> bool:
        """One conditional UPDATE, so exactly one owner in any process wins."""
        async with self._connection() as conn:
            status = await conn.execute(
                "UPDATE generations SET delivery_started_at = COALESCE(delivery_started_at, $2),"
                " message_id = COALESCE($3, message_id) WHERE id = $1"
                " AND status IN ('queued', 'running') AND (delivery_started_at IS NULL"
                " OR ($4::text IS NOT NULL AND owner = $4::text))",
                generation_id,
                moment,
                message_id,
                owner,
            )
        return _rowcount(status) == 1

    async def _record_post(self, generation_id: int, message_id: int) -> bool:
        async with self._connection() as conn:
            status = await conn.execute(
                "UPDATE generations SET posted_message_id = $2 WHERE id = $1"
                " AND status IN ('queued', 'running') AND delivery_started_at IS NOT NULL",
                generation_id,
                message_id,
            )
        return _rowcount(status) == 1

    async def in_flight(self, guild_id: int | None = None) -> list[GenerationRecord]:
        async with self._connection() as conn:
            rows = await conn.fetch(
                f"SELECT {GENERATION_COLUMNS} FROM generations"
                " WHERE status IN ('queued', 'running') AND ($1::bigint IS NULL OR guild_id = $1)"
                " ORDER BY id",
                guild_id,
            )
        return [_record(row) for row in rows]

    # -- leases (which process runs an in-flight job) -------------------------------------

    async def renew_leases(self, owner: str, until: datetime) -> int:
        lease = Lease(owner, until)
        async with self._connection() as conn:
            status = await conn.execute(_RENEW_LEASES_SQL, lease.owner, as_utc(lease.until))
        return _rowcount(status)

    async def claim(
        self,
        generation_id: int,
        *,
        previous_owner: str | None,
        owner: str,
        until: datetime,
        now: datetime | None = None,
    ) -> bool:
        """One conditional UPDATE, so exactly one claimer in any process wins (see above)."""
        lease = Lease(owner, until)
        async with self._connection() as conn:
            status = await conn.execute(
                "UPDATE generations SET owner = $3, lease_until = $4"
                " WHERE id = $1 AND status IN ('queued', 'running')"
                " AND owner IS NOT DISTINCT FROM $2::text"
                " AND (lease_until IS NULL OR lease_until <= $5)",
                generation_id,
                previous_owner,
                lease.owner,
                as_utc(lease.until),
                self._now(now),
            )
        return _rowcount(status) == 1

    async def expire_leases(self, owner: str, now: datetime | None = None) -> int:
        async with self._connection() as conn:
            status = await conn.execute(_EXPIRE_LEASES_SQL, owner, self._now(now))
        return _rowcount(status)

    async def _settle(
        self, generation_id: int, action: str, sql: str, *args: Any, delivered: int | None = None
    ) -> None:
        """Run a lifecycle UPDATE guarded by the statuses it may leave; explain a miss.

        ``sql`` takes the generation id as ``$1``.
        """
        async with self._connection() as conn:
            if _rowcount(await conn.execute(sql, generation_id, *args)) == 1:
                return
            row = await conn.fetchrow(
                "SELECT status, count FROM generations WHERE id = $1", generation_id
            )
        explain_settle_miss(generation_id, action, row, delivered=delivered)

    async def mark_running(self, generation_id: int, now: datetime | None = None) -> None:
        await self._settle(
            generation_id,
            "start",
            "UPDATE generations SET status = 'running', started_at = $2"
            " WHERE id = $1 AND status = 'queued'",
            self._now(now),
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
            " status = CASE WHEN $2::integer > 0 THEN 'succeeded' ELSE 'failed' END,"
            " error_class = CASE WHEN $2::integer > 0 THEN NULL ELSE 'no_images' END,"
            " reserved = 0, delivered = $2, latency_ms = $3, message_id = $4, finished_at = $5,"
            " interaction_token = NULL,"
            " cost_pico_usd = width::bigint * height * $2::bigint * $6::bigint"
            " WHERE id = $1 AND status IN ('queued', 'running') AND $2::integer <= count",
            delivered,
            latency_ms,
            message_id,
            self._now(now),
            self._price_micro,
            delivered=delivered,
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
            "UPDATE generations SET status = $2, error_class = $3, reserved = 0,"
            " finished_at = $4, interaction_token = NULL, cost_pico_usd = $5::bigint * 0"
            " WHERE id = $1 AND status IN ('queued', 'running')",
            status,
            error_class,
            self._now(now),
            self._price_micro,  # nothing delivered costs 0 (NULL: no price)
        )

    async def release_orphans(self, now: datetime | None = None) -> int:
        """Fail every in-flight row as "interrupted". Call once at startup, before serving.

        The rows are locked in id order before any is changed: the update also moves
        per-guild counter rows, and locking every generation first keeps two processes
        starting at once (or a late ``complete``) from deadlocking on them.
        """
        async with self._transaction() as conn:
            rows = await conn.fetch(
                "SELECT id FROM generations WHERE status IN ('queued', 'running')"
                " ORDER BY id FOR UPDATE"
            )
            if not rows:
                return 0
            status = await conn.execute(
                "UPDATE generations SET status = 'failed', error_class = 'interrupted',"
                " reserved = 0, finished_at = $2, interaction_token = NULL"
                " WHERE id = ANY($1::bigint[]) AND status IN ('queued', 'running')",
                [int(row["id"]) for row in rows],
                self._now(now),
            )
        return _rowcount(status)

    async def get_generation(self, generation_id: int) -> GenerationRecord | None:
        async with self._connection() as conn:
            row = await conn.fetchrow(
                f"SELECT {GENERATION_COLUMNS} FROM generations WHERE id = $1", generation_id
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
        if (table, key_column) not in _KEYED_LIMIT_TABLES:  # both are interpolated below
            raise ValueError(f"unknown limit table {table!r}")
        limit = validate_limit(limit)
        async with self._transaction(self._lock_key("settings", guild_id)) as conn:
            value = await conn.fetchval(
                f"SELECT daily_limit FROM {table} WHERE guild_id = $1 AND {key_column} = $2",
                guild_id,
                key,
            )
            old: int | None = None if value is None else int(value)
            if old == limit:
                return old
            if limit is None:
                await conn.execute(
                    f"DELETE FROM {table} WHERE guild_id = $1 AND {key_column} = $2",
                    guild_id,
                    key,
                )
            else:
                await conn.execute(
                    f"INSERT INTO {table} (guild_id, {key_column}, daily_limit)"
                    f" VALUES ($1, $2, $3) ON CONFLICT (guild_id, {key_column})"
                    " DO UPDATE SET daily_limit = EXCLUDED.daily_limit",
                    guild_id,
                    key,
                    limit,
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
    ) -> Any:
        if column not in GUILD_SETTING_COLUMNS:  # the column name is interpolated below
            raise ValueError(f"unknown guild setting {column!r}")
        async with self._transaction(self._lock_key("settings", guild_id)) as conn:
            old = await conn.fetchval(
                f"SELECT {column} FROM guild_settings WHERE guild_id = $1", guild_id
            )
            if old == value:
                return old
            await conn.execute(
                f"INSERT INTO guild_settings (guild_id, {column}) VALUES ($1, $2)"
                f" ON CONFLICT (guild_id) DO UPDATE SET {column} = EXCLUDED.{column}",
                guild_id,
                value,
            )
            await self._audit(conn, guild_id, actor_id, action, old=render(old), new=render(value))
        return old

    async def reset_member_usage(
        self, guild_id: int, user_id: int, *, actor_id: int, now: datetime | None = None
    ) -> int:
        moment = self._now(now)
        member = MemberContext(guild_id=guild_id, channel_id=0, user_id=user_id)
        # The reservation lock orders the watermark with this guild's reservations.
        async with self._transaction(self._lock_key("quota", guild_id)) as conn:
            # bot_default_limit does not affect `used`, which is all we need here.
            state = await self._quota_state(conn, member, moment, bot_default_limit=0)
            watermark = int(await conn.fetchval("SELECT COALESCE(MAX(id), 0) FROM generations"))
            await conn.execute(
                "INSERT INTO usage_resets (guild_id, user_id, after_generation_id, at)"
                " VALUES ($1, $2, $3, $4) ON CONFLICT (guild_id, user_id) DO UPDATE SET"
                " after_generation_id = EXCLUDED.after_generation_id, at = EXCLUDED.at",
                guild_id,
                user_id,
                watermark,
                moment,
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
        before: Callable[[Any], Awaitable[None]] | None = None,
    ) -> bool:
        async with self._transaction(self._lock_key("settings", guild_id)) as conn:
            if before is not None:
                await before(conn)
            changed = _rowcount(await conn.execute(sql, *params)) > 0
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
        # every /imagine defers. It begins once it has a connection to send it on.
        async with self._connection() as conn:
            began()
            row = await conn.fetchrow(_GUILD_POLICY_SQL, guild_id)
        return guild_policy_from_row(guild_id, tuple(row), decode_limits=_pairs, decode_list=list)

    async def audit_log(self, guild_id: int, *, limit: int = 10) -> list[AuditEntry]:
        async with self._connection() as conn:
            rows = await conn.fetch(
                "SELECT id, guild_id, actor_id, action, target_id, old_value, new_value, at"
                " FROM audit_log WHERE guild_id = $1 ORDER BY id DESC LIMIT $2",
                guild_id,
                max(0, limit),
            )
        return [audit_entry(row) for row in rows]

    # -- statistics ----------------------------------------------------------------------

    def _window(self, days: int, now: datetime | None) -> tuple[datetime, datetime]:
        return day_window(self._now(now), days)

    def _stats_args(self, days: int, now: datetime | None) -> tuple[Any, ...]:
        start, end = self._window(days, now)
        return start, end, start.date(), end.date()

    async def daily_totals(
        self, guild_id: int, *, days: int, now: datetime | None = None
    ) -> list[DailyTotal]:
        args = self._stats_args(days, now)
        async with self._connection() as conn:
            rows = await conn.fetch(_DAILY_TOTALS_SQL, guild_id, *args)
        return daily_totals_from_rows(rows, args[2], days, parse_day=_same_day)

    async def top_members(
        self, guild_id: int, *, days: int, limit: int = 10, now: datetime | None = None
    ) -> list[MemberTotal]:
        args = self._stats_args(days, now)
        async with self._connection() as conn:
            rows = await conn.fetch(_TOP_MEMBERS_SQL, guild_id, *args, max(0, limit))
        return member_totals_from_rows(rows)

    async def export_usage(
        self, guild_id: int, *, days: int, now: datetime | None = None
    ) -> list[GenerationRecord]:
        start, end = self._window(days, now)
        async with self._connection() as conn:
            rows = await conn.fetch(
                f"SELECT {GENERATION_COLUMNS} FROM generations"
                " WHERE guild_id = $1 AND created_at >= $2 AND created_at < $3 ORDER BY id",
                guild_id,
                start,
                end,
            )
        # A year of a busy server is ~10^5 rows, ~1 s of Python: not on the event loop.
        return await asyncio.to_thread(lambda: [_record(row) for row in rows])

    # -- retention -----------------------------------------------------------------------

    async def prune_generations(self, before: datetime, *, limit: int) -> PruneBatch:
        """Delete, fold into ``usage_archive`` and commit, as one short transaction.

        The prune lock keeps two processes' batches from interleaving their archive
        upserts; reservations and settlements never wait for it.
        """
        async with self._transaction(advisory_key(self._schema, "prune")) as conn:
            deleted = await conn.fetch(_PRUNE_GENERATIONS_SQL, as_utc(before), max(1, limit))
            folded = fold_pruned(deleted)
            if folded:
                await conn.executemany(_ARCHIVE_UPSERT_SQL, folded)
        return PruneBatch(deleted=len(deleted), more=len(deleted) >= limit)

    async def prune_audit_log(self, before: datetime, *, limit: int) -> PruneBatch:
        async with self._connection() as conn:
            status = await conn.execute(
                "DELETE FROM audit_log WHERE id IN"
                " (SELECT id FROM audit_log WHERE at < $1 ORDER BY id LIMIT $2)",
                as_utc(before),
                max(1, limit),
            )
        deleted = _rowcount(status)
        return PruneBatch(deleted=deleted, more=deleted >= limit)


def _record(row: Any) -> GenerationRecord:
    return generation_record(row)


def _same_day(value: date) -> date:
    """asyncpg already returns a ``date`` for the ``::date`` column."""
    return value
