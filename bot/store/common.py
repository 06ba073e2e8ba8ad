"""What the SQLite and PostgreSQL stores share: everything that does not depend on the dialect.

Why one copy: many ``Store`` methods differ between the backends only in one primitive (how
a transaction is opened, how a statement is sent) and are otherwise the same decision:
which audit text a change leaves, how a setting is validated, that an abandoned
``reserve`` is refunded. Written twice, such rules drift apart silently; here each is
written once and the dialect modules supply the primitives (``StoreCommon``'s abstract
methods) and their SQL.

SQL itself stays in the dialect modules. The dialects differ in placeholders, upserts,
column types and, above all, locking; a layer that hid those differences would hide
exactly what the correctness arguments in ``sqlite.py`` and ``postgres.py`` are about.
The pure helpers here take rows *positionally* (sqlite3 tuples and asyncpg records both
index that way) and convert every value, so one helper serves both drivers' types.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar, Final, Generic, NoReturn, TypeVar

from bot.i18n import LANGUAGES
from bot.policy import styles as style_rules
from bot.policy.quota import as_utc, reset_at, resolve_limit, validate_limit
from bot.policy.rules import BlockedWordsFull, normalize_blocked_word
from bot.policy.spend import Price
from bot.store.base import (
    AuditAction,
    AuditEntry,
    DailyTotal,
    EffectiveLimit,
    GenerationNotFound,
    GenerationParams,
    GenerationRecord,
    GenerationStateError,
    GenerationStatus,
    GuildPolicy,
    InteractionRef,
    JobLimitReached,
    JobLimits,
    Lease,
    MemberContext,
    MemberTotal,
    Preferences,
    Reach,
    Reservation,
    Style,
    UsageSummary,
)

__all__ = [
    "GENERATION_COLUMNS",
    "GUILD_SETTING_COLUMNS",
    "PREFERENCE_COLUMNS",
    "Began",
    "ModerationSql",
    "QuotaState",
    "ReadsTogether",
    "ReservationAbandoned",
    "StoreCommon",
    "WorkspaceSql",
    "audit_entry",
    "check_abandoned",
    "check_job_limits",
    "daily_totals_from_rows",
    "explain_settle_miss",
    "fold_pruned",
    "generation_record",
    "guild_policy_from_row",
    "limit_text",
    "member_totals_from_rows",
    "optional_int",
    "preferences_from_row",
    "switch_text",
    "utcnow",
]

log = logging.getLogger(__name__)

REFUND_RETRY_DELAYS: Final = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
"""Pauses between attempts to refund an abandoned reservation (about 16 s in all)."""

GENERATION_COLUMNS: Final = (
    "id, parent_id, guild_id, channel_id, user_id, prompt, width, height, size_preset, steps, "
    "guidance, acceleration, seed, safety_checker, count, status, reserved, delivered, "
    "error_class, latency_ms, message_id, created_at, started_at, finished_at, "
    "token_expires_at, delivery_started_at, interaction_token, "
    "owner, lease_until, posted_message_id, cost_pico_usd, style_name, style_text, reach, "
    "locale, member_locale"
)
"""The ``generations`` columns in the order ``generation_record`` unpacks them."""

GUILD_SETTING_COLUMNS: Final = frozenset(
    {"default_limit", "server_budget", "nsfw_safety", "log_channel_id", "language"}
)
"""The only columns ``_set_guild_setting`` may name: the name is interpolated into SQL."""

Conn = TypeVar("Conn")


def utcnow() -> datetime:
    return datetime.now(UTC)


def optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def limit_text(value: int | None) -> str | None:
    """A limit as the audit log shows it; None means "not set"."""
    return None if value is None else str(value)


def switch_text(value: bool | None) -> str | None:
    """An on/off setting as the audit log shows it (a stored 0/1 reads the same)."""
    return None if value is None else ("on" if value else "off")


def _already_datetime(value: datetime | None) -> datetime | None:
    """The driver already returns aware datetimes (PostgreSQL's timestamptz)."""
    return value


class QuotaState:
    """The quota inputs for one member at one instant, resolved by the pure policy.

    ``row`` is the dialect's one-statement quota query: member limit, the member's role
    limits (in whatever shape the dialect aggregates them; ``decode_limits`` turns that
    into a dict), server default, server budget, member's usage, server's usage.
    """

    __slots__ = ("limit", "server_budget", "server_used", "used")

    def __init__(
        self,
        row: Sequence[Any],
        member: MemberContext,
        bot_default_limit: int,
        *,
        decode_limits: Callable[[Any], dict[int, int]],
    ) -> None:
        member_limit, role_limits, server_default, server_budget, used, server_used = row
        self.limit: EffectiveLimit = resolve_limit(
            member_limit=optional_int(member_limit),
            role_limits=decode_limits(role_limits),
            member_role_ids=member.role_ids,
            server_default=optional_int(server_default),
            bot_default=bot_default_limit,
        )
        self.server_budget: int | None = optional_int(server_budget)
        self.used = int(used)
        self.server_used = int(server_used or 0)


class ReservationAbandoned(Exception):
    """The caller of ``reserve`` gave up before its row was written: nothing is inserted."""


def check_abandoned(abandoned: threading.Event) -> None:
    """Raise :class:`ReservationAbandoned` once the caller has given up (see ``reserve``)."""
    if abandoned.is_set():
        raise ReservationAbandoned()


def check_job_limits(mine: int, everyone: int, limits: JobLimits) -> None:
    """Refuse a job past the member's or the whole queue's in-flight limit (member first)."""
    if limits.per_member is not None and mine >= limits.per_member:
        raise JobLimitReached("member", limits.per_member)
    if limits.queue is not None and everyone >= limits.queue:
        raise JobLimitReached("queue", limits.queue)


def explain_settle_miss(
    generation_id: int, action: str, found: Sequence[Any] | None, *, delivered: int | None
) -> NoReturn:
    """Why a guarded lifecycle UPDATE matched no row, as the error a caller can act on.

    ``found`` is the row's (status, count), or None when there is no such row;
    ``delivered`` is given only by ``complete``, whose guard also bounds it by ``count``.
    """
    if found is None:
        raise GenerationNotFound(f"no generation {generation_id}")
    status = GenerationStatus(found[0])
    if delivered is not None and status.in_flight:
        raise ValueError(
            f"delivered={delivered} but generation {generation_id} reserved only {found[1]}"
        )
    raise GenerationStateError(generation_id, status, action)


def generation_record(
    row: Iterable[Any], parse_ts: Callable[[Any], datetime | None] = _already_datetime
) -> GenerationRecord:
    """One ``generations`` row, selected as ``GENERATION_COLUMNS``, as typed values.

    ``parse_ts`` reads a stored timestamp (SQLite keeps ISO text; PostgreSQL returns
    datetimes, the default).
    """
    (
        id_,
        parent_id,
        guild_id,
        channel_id,
        user_id,
        prompt,
        width,
        height,
        size_preset,
        steps,
        guidance,
        acceleration,
        seed,
        safety_checker,
        count,
        status,
        reserved,
        delivered,
        error_class,
        latency_ms,
        message_id,
        created_at,
        started_at,
        finished_at,
        token_expires_at,
        delivery_started_at,
        interaction_token,
        owner,
        lease_until,
        posted_message_id,
        cost_pico_usd,
        style_name,
        style_text,
        reach,
        locale,
        member_locale,
    ) = row
    created = parse_ts(created_at)
    assert created is not None  # NOT NULL in every dialect's schema
    return GenerationRecord(
        id=int(id_),
        parent_id=optional_int(parent_id),
        guild_id=int(guild_id),
        channel_id=int(channel_id),
        user_id=int(user_id),
        params=GenerationParams(
            prompt=str(prompt),
            width=int(width),
            height=int(height),
            size_preset=size_preset,
            steps=int(steps),
            guidance=float(guidance),
            acceleration=str(acceleration),
            seed=int(seed),
            safety_checker=bool(safety_checker),
            count=int(count),
            style_name=style_name,
            style_text=style_text,
        ),
        status=GenerationStatus(status),
        reserved=int(reserved),
        delivered=int(delivered),
        error_class=error_class,
        latency_ms=optional_int(latency_ms),
        message_id=optional_int(message_id),
        created_at=created,
        started_at=parse_ts(started_at),
        finished_at=parse_ts(finished_at),
        token_expires_at=parse_ts(token_expires_at),
        delivery_started_at=parse_ts(delivery_started_at),
        interaction_token=interaction_token,
        owner=owner,
        lease_until=parse_ts(lease_until),
        posted_message_id=optional_int(posted_message_id),
        cost_pico_usd=optional_int(cost_pico_usd),
        reach=Reach(reach),
        locale=str(locale),
        member_locale=str(member_locale),
    )


def audit_entry(
    row: Sequence[Any], parse_ts: Callable[[Any], datetime | None] = _already_datetime
) -> AuditEntry:
    """One ``audit_log`` row (id, guild_id, actor_id, action, target_id, old, new, at)."""
    at = parse_ts(row[7])
    assert at is not None  # NOT NULL in every dialect's schema
    return AuditEntry(
        id=int(row[0]),
        guild_id=int(row[1]),
        actor_id=int(row[2]),
        action=AuditAction(row[3]),
        target_id=optional_int(row[4]),
        old_value=row[5],
        new_value=row[6],
        at=at,
    )


def guild_policy_from_row(
    guild_id: int,
    row: Sequence[Any],
    *,
    decode_limits: Callable[[Any], dict[int, int]],
    decode_list: Callable[[Any], Iterable[Any]],
) -> GuildPolicy:
    """A guild's settings from the dialect's one-statement policy query.

    The row is (default limit, server budget, nsfw safety, role limits, member limits,
    allowed channels, blocked words in byte order, log channel, language); the dialect says how it
    aggregated the keyed limits (``decode_limits``) and the lists (``decode_list``).
    """
    default_limit, server_budget, nsfw, roles, members, channels, words, log_channel, language = row
    return GuildPolicy(
        guild_id=guild_id,
        default_limit=optional_int(default_limit),
        server_budget=optional_int(server_budget),
        role_limits=decode_limits(roles),
        member_limits=decode_limits(members),
        allowed_channel_ids=frozenset(int(c) for c in decode_list(channels)),
        blocked_words=tuple(str(w) for w in decode_list(words)),
        nsfw_safety=None if nsfw is None else bool(nsfw),
        log_channel_id=optional_int(log_channel),
        language=None if language is None else str(language),
    )


def daily_totals_from_rows(
    rows: Iterable[Sequence[Any]],
    first_day: date,
    days: int,
    *,
    parse_day: Callable[[Any], date],
) -> list[DailyTotal]:
    """One total per day from ``first_day`` on, zeros where the query returned no row.

    Rows are (day, images, generations, failures, cost) for the days that had any request
    (live or archived); a chart or export then has no gaps.
    """
    by_day: dict[date, DailyTotal] = {}
    for row in rows:
        day = parse_day(row[0])
        by_day[day] = DailyTotal(day, int(row[1]), int(row[2]), int(row[3]), int(row[4] or 0))
    return [
        by_day.get(day, DailyTotal(day, 0, 0, 0))
        for day in (first_day + timedelta(days=offset) for offset in range(days))
    ]


def member_totals_from_rows(rows: Iterable[Sequence[Any]]) -> list[MemberTotal]:
    """Rows of (user, images, requests, cost), already ordered and limited by the query."""
    return [MemberTotal(int(row[0]), int(row[1]), int(row[2]), int(row[3] or 0)) for row in rows]


ArchiveKey = tuple[int, Any, int]
"""(guild, day as the dialect stores it, user): one ``usage_archive`` row."""


def fold_pruned(rows: Iterable[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """Sum the rows a pruning batch deleted into ``usage_archive`` increments.

    Each deleted row is (guild, day, user, images, status, cost); the result is one
    (guild, day, user, images, generations, failures, cost) per key, in key order so
    concurrent upserts always touch archive rows in the same order. The same fold the
    live statistics queries do, so archived and live numbers add up exactly.
    """
    totals: dict[ArchiveKey, list[int]] = {}
    for guild_id, day, user_id, images, status, cost in rows:
        entry = totals.setdefault((int(guild_id), day, int(user_id)), [0, 0, 0, 0])
        entry[0] += int(images)
        entry[1] += 1
        entry[2] += 1 if status == GenerationStatus.FAILED.value else 0
        entry[3] += int(cost or 0)
    return [(*key, *values) for key, values in sorted(totals.items(), key=lambda kv: kv[0])]


@dataclass(frozen=True)
class ModerationSql:
    """A dialect's statements for the channel and word lists (see ``StoreCommon``).

    Parameters, in order: ``allow_channel`` / ``disallow_channel`` (guild, channel);
    ``block_word`` / ``unblock_word`` / ``word_is_blocked`` (guild, word);
    ``count_blocked_words`` (guild). The two inserts must do nothing on a duplicate, so
    their row count says whether anything changed.
    """

    allow_channel: str
    disallow_channel: str
    block_word: str
    unblock_word: str
    count_blocked_words: str
    word_is_blocked: str


PREFERENCE_COLUMNS: Final = (
    "size_preset, width, height, steps, guidance, acceleration, count, style"
)
"""The ``member_preferences`` columns in ``Preferences`` field order."""


def preferences_from_row(row: Sequence[Any] | None) -> Preferences:
    if row is None:
        return Preferences()
    size, width, height, steps, guidance, acceleration, count, style = row
    return Preferences(
        size=size,
        width=optional_int(width),
        height=optional_int(height),
        steps=optional_int(steps),
        guidance=None if guidance is None else float(guidance),
        acceleration=acceleration,
        count=optional_int(count),
        style=style,
    )


@dataclass(frozen=True)
class WorkspaceSql:
    """A dialect's statements for preferences, styles and history (see ``StoreCommon``).

    Parameters, in order: ``get_preferences`` / ``delete_preferences`` (scope, user);
    ``put_preferences`` (scope, user, then ``PREFERENCE_COLUMNS``' eight values, updated
    at) as an upsert; ``list_styles`` (guild) → (name, text, created_by, created_at) by
    key; ``get_style`` (guild, key) → the same; ``get_style_text`` (guild, key) → text;
    ``count_styles`` (guild);
    ``put_style`` (guild, key, name, text, created_by, created_at) as an upsert;
    ``delete_style`` (guild, key); ``history`` (guild, user, limit, offset) →
    ``GENERATION_COLUMNS`` newest first; ``count_history`` (guild, user).
    """

    get_preferences: str
    put_preferences: str
    delete_preferences: str
    list_styles: str
    get_style: str
    get_style_text: str
    count_styles: str
    put_style: str
    delete_style: str
    history: str
    count_history: str


_K = TypeVar("_K")
_V = TypeVar("_V")
Began = Callable[[], None]
"""Called by a read the moment it begins (in whatever thread runs the query)."""


class ReadsTogether(Generic[_K, _V]):
    """Concurrent reads of one key share a read that has not begun yet.

    In a burst, 250 members of one server each ask for its policy within milliseconds
    (before their acknowledgement, and again for the moderation log): one read answers
    all who asked before it began. Only a read that has *not begun* is joined, so each
    caller still sees every write committed before it asked, as its own read would.
    The read reports that it began (``began``, from the thread running the query, under
    a lock), and from then on a new caller starts a read of its own. A caller whose wait
    is cancelled does not cancel the read the others wait for.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[_K, asyncio.Future[_V]] = {}

    async def read(self, key: _K, start: Callable[[Began], Awaitable[_V]]) -> _V:
        with self._lock:
            shared = self._waiting.get(key)
            if shared is None:
                shared = self._waiting[key] = asyncio.ensure_future(
                    start(lambda: self._begun(key, shared))
                )
                shared.add_done_callback(lambda done: self._begun(key, done))
        return await asyncio.shield(shared)

    def _begun(self, key: _K, read: asyncio.Future[_V] | None) -> None:
        with self._lock:
            if self._waiting.get(key) is read:
                del self._waiting[key]


class StoreCommon(ABC, Generic[Conn]):
    """The ``Store`` methods whose logic is the same in every dialect.

    A subclass supplies the dialect's primitives (the abstract methods below, each
    documented where it is implemented) and its ``ModerationSql``; ``Conn`` is the type
    of connection its transactions hand out. ``close`` and ``_now`` read ``_clock``,
    ``_background`` and ``_closed``, which ``__init__`` sets.
    """

    _moderation_sql: ClassVar[ModerationSql]
    _workspace_sql: ClassVar[WorkspaceSql]

    def __init__(self, *, clock: Callable[[], datetime], price: Price | None = None) -> None:
        self._clock = clock
        # Recorded with each settled row as its estimated cost; None records no cost.
        self._price_micro = None if price is None else price.micro_usd_per_megapixel
        self._background: set[asyncio.Future[None]] = set()
        self._closed = False
        self._policies: ReadsTogether[int, GuildPolicy] = ReadsTogether()

    async def close(self) -> None:
        """Finish background refunds, then close the connections. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        await self.refunds_settled()
        await self._close_connections()

    def _track(self, work: asyncio.Future[None]) -> None:
        """Keep background clean-up (refunds, rollbacks) alive until it is done."""
        self._background.add(work)
        work.add_done_callback(self._background.discard)

    async def refunds_settled(self) -> None:
        """Wait until the clean-up after abandoned calls is done: refunds, rollbacks."""
        while pending := [task for task in self._background if not task.done()]:
            await asyncio.gather(*pending, return_exceptions=True)

    def _now(self, now: datetime | None) -> datetime:
        return as_utc(self._clock() if now is None else now)

    async def guild_policy(self, guild_id: int) -> GuildPolicy:
        """A guild's settings at one instant, no older than the call (see ReadsTogether):
        read before every /imagine defers and for every moderation-log entry."""
        return await self._policies.read(
            guild_id, lambda began: self._read_guild_policy(guild_id, began)
        )

    # -- dialect primitives --------------------------------------------------------------

    @abstractmethod
    async def _read_guild_policy(self, guild_id: int, began: Began) -> GuildPolicy:
        """One statement (one consistent snapshot); ``began()`` right before it runs."""

    @abstractmethod
    async def _close_connections(self) -> None: ...

    @abstractmethod
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
    ) -> Reservation: ...

    @abstractmethod
    async def _read_quota_state(
        self, member: MemberContext, moment: datetime, bot_default_limit: int
    ) -> QuotaState: ...

    @abstractmethod
    async def _finish_without_images(
        self,
        generation_id: int,
        status: str,
        error_class: str | None,
        action: str,
        now: datetime | None,
    ) -> None: ...

    @abstractmethod
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
    ) -> int | None: ...

    @abstractmethod
    async def _set_guild_setting(
        self,
        guild_id: int,
        column: str,
        value: int | bool | str | None,
        *,
        actor_id: int,
        action: AuditAction,
        render: Callable[[Any], str | None],
    ) -> int | bool | str | None:
        """Set one ``guild_settings`` column, audited; return its previous value as stored."""

    @abstractmethod
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
        before: Callable[[Conn], Awaitable[None]] | None = None,
    ) -> bool:
        """Run ``sql`` after ``before`` in one settings transaction; audit it if a row changed."""

    @abstractmethod
    async def get_generation(self, generation_id: int) -> GenerationRecord | None: ...

    @abstractmethod
    async def _record_post(self, generation_id: int, message_id: int) -> bool:
        """Set ``posted_message_id`` on a job whose delivery has begun and is not settled."""

    @abstractmethod
    async def _scalar(self, conn: Conn, sql: str, *args: Any) -> Any:
        """The first column of the first row, or None when there is no row."""

    @abstractmethod
    async def _read(self, sql: str, *args: Any) -> list[Sequence[Any]]:
        """Every row of one read-only statement, outside any write transaction."""

    @abstractmethod
    async def _write_one(self, sql: str, *args: Any) -> int:
        """Run one writing statement in its own transaction; the number of rows it changed."""

    @abstractmethod
    def _ts_param(self, moment: datetime) -> Any:
        """A timestamp as the dialect stores it (SQLite: fixed-width ISO text)."""

    @abstractmethod
    def _ts_value(self, stored: Any) -> datetime | None:
        """A stored timestamp read back as an aware datetime."""

    @abstractmethod
    def _generation_row(self, row: Sequence[Any]) -> GenerationRecord:
        """A ``GENERATION_COLUMNS`` row as a record (the dialect parses its timestamps)."""

    # -- quota and usage log -------------------------------------------------------------

    async def record_post(self, generation_id: int, message_id: int) -> None:
        """Keep the id of the channel message a result went out as, the moment it exists.

        Only a job being delivered takes it: a row already settled (or never claimed) says
        something else happened to it, which is a :class:`GenerationStateError`.
        """
        if not await self._record_post(generation_id, message_id):
            record = await self.get_generation(generation_id)
            if record is None:
                raise GenerationNotFound(f"no generation {generation_id}")
            raise GenerationStateError(generation_id, record.status, "record the post of")

    async def begin_delivery(
        self,
        generation_id: int,
        now: datetime | None = None,
        *,
        message_id: int | None = None,
        owner: str | None = None,
    ) -> bool:
        """Claim the right to post the result once; a claim by ``owner`` (the process the
        row is leased to) wins again for that owner, so a retry after a lost answer to a
        claim that did commit is not mistaken for somebody else's delivery."""
        return await self._begin_delivery(generation_id, self._now(now), message_id, owner)

    @abstractmethod
    async def _begin_delivery(
        self, generation_id: int, moment: datetime, message_id: int | None, owner: str | None
    ) -> bool:
        """The conditional UPDATE of :meth:`begin_delivery`; True if it took a row."""

    async def reserve(
        self,
        member: MemberContext,
        params: GenerationParams,
        *,
        bot_default_limit: int,
        now: datetime | None = None,
        parent_id: int | None = None,
        job_limits: JobLimits | None = None,
        interaction: InteractionRef | None = None,
        lease: Lease | None = None,
        locale: str = "en-US",
        member_locale: str = "en-US",
    ) -> Reservation:
        """Check job limits and both quotas, and insert the queued row, as one atomic step.

        How it is atomic is the dialect's business (``_reserve``). If the caller is
        cancelled while this runs (the acknowledgement budget ran out, the interaction
        went away), a reservation still waiting for the database is dropped before it
        writes (``abandoned``, checked inside the transaction), and one that committed
        in the last instant is cancelled (refunded) in the background, so an abandoned
        interaction never leaves images held by nobody until the next restart.
        """
        abandoned = threading.Event()  # set on the event loop, read in SQLite's thread
        task = asyncio.ensure_future(
            self._reserve(
                member,
                params,
                bot_default_limit=bot_default_limit,
                now=now,
                parent_id=parent_id,
                job_limits=job_limits,
                interaction=interaction,
                lease=lease,
                locale=locale,
                member_locale=member_locale,
                abandoned=abandoned,
            )
        )
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            abandoned.set()
            self._track(asyncio.ensure_future(self._refund_when_done(task)))
            raise

    async def _refund_when_done(self, task: asyncio.Future[Reservation]) -> None:
        """Cancel what an abandoned ``reserve`` produced, riding out a busy database.

        The caller gave up because the database was slow (the acknowledgement budget)
        or the interaction went away, so the refund is likely to meet the same lock;
        it is retried with growing pauses instead of leaving the images held.
        """
        try:
            reservation = await task
        except (Exception, asyncio.CancelledError):
            return  # refused or failed: nothing was held
        generation_id = reservation.generation_id
        for delay in (*REFUND_RETRY_DELAYS, None):
            try:
                await self.cancel(generation_id)
                return
            except GenerationStateError:
                return  # already settled by someone else: nothing left to undo
            except Exception:
                if delay is None:
                    log.exception(
                        "could not refund abandoned reservation %s; the next start will",
                        generation_id,
                    )
                    return
                log.warning(
                    "refunding abandoned reservation %s failed; retrying in %.1f s",
                    generation_id,
                    delay,
                    exc_info=True,
                )
                await asyncio.sleep(delay)

    async def fail(
        self, generation_id: int, *, error_class: str, now: datetime | None = None
    ) -> None:
        await self._finish_without_images(generation_id, "failed", error_class, "fail", now)

    async def cancel(self, generation_id: int, now: datetime | None = None) -> None:
        await self._finish_without_images(generation_id, "cancelled", None, "cancel", now)

    async def usage(
        self, member: MemberContext, *, bot_default_limit: int, now: datetime | None = None
    ) -> UsageSummary:
        moment = self._now(now)
        state = await self._read_quota_state(member, moment, bot_default_limit)
        return UsageSummary(
            limit=state.limit,
            used=state.used,
            remaining=max(0, state.limit.limit - state.used),
            reset_at=reset_at(moment),
            server_budget=state.server_budget,
            server_used=state.server_used,
        )

    # -- moderator settings --------------------------------------------------------------

    async def set_member_limit(
        self, guild_id: int, user_id: int, limit: int | None, *, actor_id: int
    ) -> int | None:
        return await self._set_keyed_limit(
            "member_limits",
            "user_id",
            guild_id,
            user_id,
            limit,
            actor_id=actor_id,
            action=AuditAction.MEMBER_LIMIT,
        )

    async def set_role_limit(
        self, guild_id: int, role_id: int, limit: int | None, *, actor_id: int
    ) -> int | None:
        return await self._set_keyed_limit(
            "role_limits",
            "role_id",
            guild_id,
            role_id,
            limit,
            actor_id=actor_id,
            action=AuditAction.ROLE_LIMIT,
        )

    async def _set_limit_setting(
        self, guild_id: int, column: str, limit: int | None, *, actor_id: int, action: AuditAction
    ) -> int | None:
        old = await self._set_guild_setting(
            guild_id,
            column,
            validate_limit(limit),
            actor_id=actor_id,
            action=action,
            render=limit_text,
        )
        return optional_int(old)

    async def set_default_limit(
        self, guild_id: int, limit: int | None, *, actor_id: int
    ) -> int | None:
        return await self._set_limit_setting(
            guild_id, "default_limit", limit, actor_id=actor_id, action=AuditAction.DEFAULT_LIMIT
        )

    async def set_server_budget(
        self, guild_id: int, limit: int | None, *, actor_id: int
    ) -> int | None:
        return await self._set_limit_setting(
            guild_id, "server_budget", limit, actor_id=actor_id, action=AuditAction.SERVER_BUDGET
        )

    async def set_nsfw_safety(
        self, guild_id: int, enabled: bool | None, *, actor_id: int
    ) -> bool | None:
        old = await self._set_guild_setting(
            guild_id,
            "nsfw_safety",
            None if enabled is None else bool(enabled),
            actor_id=actor_id,
            action=AuditAction.NSFW_SAFETY,
            render=switch_text,
        )
        return None if old is None else bool(old)

    async def set_log_channel(
        self, guild_id: int, channel_id: int | None, *, actor_id: int
    ) -> int | None:
        old = await self._set_guild_setting(
            guild_id,
            "log_channel_id",
            channel_id,
            actor_id=actor_id,
            action=AuditAction.LOG_CHANNEL,
            render=limit_text,
        )
        return optional_int(old)

    async def set_language(
        self, guild_id: int, language: str | None, *, actor_id: int
    ) -> str | None:
        if language is not None and language not in LANGUAGES:
            raise ValueError(f"the bot does not speak {language!r}")
        old = await self._set_guild_setting(
            guild_id,
            "language",
            language,
            actor_id=actor_id,
            action=AuditAction.LANGUAGE,
            render=lambda value: None if value is None else str(value),
        )
        return None if old is None else str(old)

    async def allow_channel(self, guild_id: int, channel_id: int, *, actor_id: int) -> bool:
        return await self._toggle(
            self._moderation_sql.allow_channel,
            (guild_id, channel_id),
            guild_id=guild_id,
            actor_id=actor_id,
            action=AuditAction.ALLOW_CHANNEL,
            target_id=channel_id,
            old="not allowed",
            new="allowed",
        )

    async def disallow_channel(self, guild_id: int, channel_id: int, *, actor_id: int) -> bool:
        return await self._toggle(
            self._moderation_sql.disallow_channel,
            (guild_id, channel_id),
            guild_id=guild_id,
            actor_id=actor_id,
            action=AuditAction.DISALLOW_CHANNEL,
            target_id=channel_id,
            old="allowed",
            new="not allowed",
        )

    async def _block_word(self, guild_id: int, word: str, *, actor_id: int, cap: int) -> bool:
        """Block a word or phrase (stored normalised); refuse a new one past ``cap``.

        ``cap`` comes from the caller because each dialect module's
        ``MAX_BLOCKED_WORDS_PER_GUILD`` is the setting (read at call time, so it can be
        lowered, as tests do). The count runs inside the settings transaction, so two
        simultaneous blocks cannot both take the last place.
        """
        rule = normalize_blocked_word(word)
        sql = self._moderation_sql

        async def check_room(conn: Conn) -> None:
            count = await self._scalar(conn, sql.count_blocked_words, guild_id)
            full = count is not None and int(count) >= cap
            if full and await self._scalar(conn, sql.word_is_blocked, guild_id, rule) is None:
                raise BlockedWordsFull(cap)

        return await self._toggle(
            sql.block_word,
            (guild_id, rule),
            guild_id=guild_id,
            actor_id=actor_id,
            action=AuditAction.BLOCK_WORD,
            new=rule,
            before=check_room,
        )

    async def unblock_word(self, guild_id: int, word: str, *, actor_id: int) -> bool:
        rule = normalize_blocked_word(word)
        return await self._toggle(
            self._moderation_sql.unblock_word,
            (guild_id, rule),
            guild_id=guild_id,
            actor_id=actor_id,
            action=AuditAction.UNBLOCK_WORD,
            old=rule,
        )

    # -- the member's workspace: preferences, styles, history ----------------------------

    async def preferences(self, scope_id: int, user_id: int) -> Preferences:
        rows = await self._read(self._workspace_sql.get_preferences, scope_id, user_id)
        return preferences_from_row(rows[0] if rows else None)

    async def set_preferences(
        self, scope_id: int, user_id: int, preferences: Preferences, *, now: datetime | None = None
    ) -> None:
        """Replace the member's defaults; the caller validated them as ``/imagine`` would."""
        if preferences.empty:
            await self.reset_preferences(scope_id, user_id)
            return
        p = preferences
        await self._write_one(
            self._workspace_sql.put_preferences,
            scope_id,
            user_id,
            p.size,
            p.width,
            p.height,
            p.steps,
            None if p.guidance is None else float(p.guidance),
            p.acceleration,
            p.count,
            p.style,
            self._ts_param(self._now(now)),
        )

    async def reset_preferences(self, scope_id: int, user_id: int) -> bool:
        return await self._write_one(self._workspace_sql.delete_preferences, scope_id, user_id) > 0

    def _style(self, row: Sequence[Any]) -> Style:
        created = self._ts_value(row[3])
        assert created is not None  # NOT NULL in every dialect's schema
        return Style(name=str(row[0]), text=str(row[1]), created_by=int(row[2]), created_at=created)

    async def styles(self, guild_id: int) -> list[Style]:
        return [
            self._style(row) for row in await self._read(self._workspace_sql.list_styles, guild_id)
        ]

    async def style(self, guild_id: int, name: str) -> Style | None:
        key = style_rules.style_key(name)
        if not key:
            return None
        rows = await self._read(self._workspace_sql.get_style, guild_id, key)
        return self._style(rows[0]) if rows else None

    async def add_style(
        self, guild_id: int, name: str, text: str, *, actor_id: int, now: datetime | None = None
    ) -> str | None:
        """Add or replace a style; the count runs inside the settings transaction, so two
        moderators adding at once cannot both take the last of the 25 places."""
        shown = style_rules.style_name(name)
        body = style_rules.style_text(text)
        key = style_rules.style_key(shown)
        sql = self._workspace_sql
        replaced: list[str] = []
        cap = style_rules.MAX_STYLES_PER_GUILD

        async def check_room(conn: Conn) -> None:
            old = await self._scalar(conn, sql.get_style_text, guild_id, key)
            if old is not None:
                replaced.append(str(old))
                return
            count = await self._scalar(conn, sql.count_styles, guild_id)
            if count is not None and int(count) >= cap:
                raise style_rules.StylesFull(cap)

        await self._toggle(
            sql.put_style,
            (guild_id, key, shown, body, actor_id, self._ts_param(self._now(now))),
            guild_id=guild_id,
            actor_id=actor_id,
            action=AuditAction.ADD_STYLE,
            new=f"{shown}: {body}",
            before=check_room,
        )
        return replaced[0] if replaced else None

    async def remove_style(self, guild_id: int, name: str, *, actor_id: int) -> bool:
        key = style_rules.style_key(name)
        if not key:
            return False
        return await self._toggle(
            self._workspace_sql.delete_style,
            (guild_id, key),
            guild_id=guild_id,
            actor_id=actor_id,
            action=AuditAction.REMOVE_STYLE,
            old=" ".join(name.split()),
        )

    async def history(
        self, guild_id: int, user_id: int, *, limit: int, offset: int = 0
    ) -> tuple[list[GenerationRecord], int]:
        sql = self._workspace_sql
        rows = await self._read(sql.history, guild_id, user_id, max(0, limit), max(0, offset))
        total = await self._read(sql.count_history, guild_id, user_id)
        return [self._generation_row(row) for row in rows], int(total[0][0]) if total else 0
