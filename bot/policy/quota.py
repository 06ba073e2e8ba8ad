"""Daily quota arithmetic: which limit applies to a member, and whether a request fits.

Pure functions over plain values so the rules a moderator reads in ``/quota view`` are
the rules the store enforces, and both are tested without a database or Discord.

The quota period is the UTC day. Everyone on a server shares one reset instant, so a
moderator can say "limits reset at midnight UTC" and the cogs can render ``reset_at``
as a Discord timestamp that each member sees in their own time zone.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Literal

QuotaScope = Literal["member", "server"]


class LimitSource(StrEnum):
    """Where a member's daily limit came from, so ``/usage`` can explain it."""

    MEMBER = "member"
    ROLE = "role"
    SERVER_DEFAULT = "server_default"
    BOT_DEFAULT = "bot_default"


@dataclass(frozen=True)
class EffectiveLimit:
    """The daily image limit that applies to one member, and why.

    ``role_id`` is set only when ``source`` is ``ROLE``: the role whose limit won.
    """

    limit: int
    source: LimitSource
    role_id: int | None = None

    @property
    def blocked(self) -> bool:
        """A limit of 0 is how moderators block a member from generating."""
        return self.limit == 0


class QuotaExceeded(Exception):
    """A request does not fit in the member's or the server's remaining daily images.

    Carries every number a refusal message needs; ``str()`` is a plain summary for logs,
    the cogs build the member-facing text themselves.
    """

    def __init__(
        self,
        *,
        scope: QuotaScope,
        limit: int,
        used: int,
        requested: int,
        reset_at: datetime,
        source: LimitSource | None,
    ) -> None:
        self.scope: QuotaScope = scope
        self.limit = limit
        self.used = used
        self.remaining = max(0, limit - used)
        self.requested = requested
        self.reset_at = reset_at
        self.source = source
        super().__init__(str(self))

    @property
    def blocked(self) -> bool:
        """True when the limit itself is 0, i.e. waiting for the reset will not help."""
        return self.limit == 0

    def __str__(self) -> str:
        who = "member" if self.scope == "member" else "server"
        return (
            f"{who} daily image limit: {self.used}/{self.limit} used, {self.remaining} remaining, "
            f"{self.requested} requested; resets at {self.reset_at.isoformat()}"
        )

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only __init__ would otherwise break pickling (e.g. across processes).
        return (
            _rebuild_quota_exceeded,
            (self.scope, self.limit, self.used, self.requested, self.reset_at, self.source),
        )


def _rebuild_quota_exceeded(
    scope: QuotaScope,
    limit: int,
    used: int,
    requested: int,
    reset_at: datetime,
    source: LimitSource | None,
) -> QuotaExceeded:
    return QuotaExceeded(
        scope=scope, limit=limit, used=used, requested=requested, reset_at=reset_at, source=source
    )


def resolve_limit(
    *,
    member_limit: int | None,
    role_limits: Mapping[int, int],
    member_role_ids: Collection[int],
    server_default: int | None,
    bot_default: int,
) -> EffectiveLimit:
    """Pick the limit that applies: member override, else best role, else server, else bot.

    ``role_limits`` may hold every role of the guild that has a limit; only the roles in
    ``member_role_ids`` count. Among those the HIGHEST limit wins, because a role is a
    grant ("Supporters get 50"), not a restriction; to restrict one member moderators
    set a member override. Ties go to the lowest role id so the answer is deterministic.
    """
    if member_limit is not None:
        return EffectiveLimit(member_limit, LimitSource.MEMBER)
    candidates = [
        (role_id, role_limits[role_id]) for role_id in member_role_ids if role_id in role_limits
    ]
    if candidates:
        role_id, limit = max(candidates, key=lambda item: (item[1], -item[0]))
        return EffectiveLimit(limit, LimitSource.ROLE, role_id)
    if server_default is not None:
        return EffectiveLimit(server_default, LimitSource.SERVER_DEFAULT)
    return EffectiveLimit(bot_default, LimitSource.BOT_DEFAULT)


def check_quota(
    *,
    limit: EffectiveLimit,
    used: int,
    requested: int,
    reset_at: datetime,
    server_budget: int | None = None,
    server_used: int = 0,
) -> int:
    """Return how many images the member has left after ``requested``, or raise QuotaExceeded.

    The member's own limit is checked first: when both are exhausted, the member's
    numbers are the ones they can act on (or ask a moderator about).
    """
    if requested < 1:
        raise ValueError("a request must ask for at least one image")
    if used + requested > limit.limit:
        raise QuotaExceeded(
            scope="member",
            limit=limit.limit,
            used=used,
            requested=requested,
            reset_at=reset_at,
            source=limit.source,
        )
    if server_budget is not None and server_used + requested > server_budget:
        raise QuotaExceeded(
            scope="server",
            limit=server_budget,
            used=server_used,
            requested=requested,
            reset_at=reset_at,
            source=None,
        )
    return limit.limit - used - requested


class LimitRefused(ValueError):
    """A daily limit a moderator cannot mean. Carries the numbers its message needs, so
    the cogs word it in the reader's language; ``str()`` is English, for logs."""


class LimitNegative(LimitRefused):
    def __init__(self, limit: int) -> None:
        super().__init__("a daily limit cannot be negative (use 0 to block)")
        self.limit = limit


class LimitTooHigh(LimitRefused):
    def __init__(self, limit: int, maximum: int) -> None:
        super().__init__(f"a daily limit cannot exceed {maximum}")
        self.limit = limit
        self.maximum = maximum


def validate_limit(limit: int | None) -> int | None:
    """Reject limits a moderator cannot mean (:class:`LimitRefused`); ``None`` means
    "remove this setting". A non-integer is a programming error: ``TypeError``."""
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise TypeError("a daily limit must be an integer")
    if limit < 0:
        raise LimitNegative(limit)
    if limit > MAX_DAILY_LIMIT:
        raise LimitTooHigh(limit, MAX_DAILY_LIMIT)
    return limit


MAX_DAILY_LIMIT = 1_000_000
"""Far above any real use; keeps sums of limits well inside 64-bit integers."""


def as_utc(now: datetime) -> datetime:
    """Normalise to UTC; naive datetimes are refused because their day is ambiguous."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("quota arithmetic needs an aware datetime (e.g. datetime.now(UTC))")
    return now.astimezone(UTC)


def utc_day(now: datetime) -> date:
    """The quota day ``now`` belongs to."""
    return as_utc(now).date()


def day_start(now: datetime) -> datetime:
    """Midnight UTC at the start of ``now``'s quota day."""
    return datetime.combine(utc_day(now), time.min, tzinfo=UTC)


def reset_at(now: datetime) -> datetime:
    """The next UTC midnight: when usage counted at ``now`` stops counting."""
    return day_start(now) + timedelta(days=1)


def day_window(now: datetime, days: int) -> tuple[datetime, datetime]:
    """``[start, end)`` covering the last ``days`` UTC days, today included."""
    if days < 1:
        raise ValueError("days must be at least 1")
    end = reset_at(now)
    return end - timedelta(days=days), end
