"""The storage interface the cogs and the job runner talk to, and the values it returns.

``Store`` is a Protocol so a PostgreSQL implementation can satisfy it later without
touching any caller: nothing here mentions SQL, connections or a dialect. Every method
that depends on the date takes ``now`` so tests can walk through days without sleeping;
``now`` must be timezone-aware and defaults to the current time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Literal, Protocol

from bot.policy.quota import EffectiveLimit, LimitSource, QuotaExceeded, resolve_limit

__all__ = [
    "PERSONAL_SCOPE",
    "AuditAction",
    "AuditEntry",
    "DailyTotal",
    "EffectiveLimit",
    "GenerationNotFound",
    "GenerationParams",
    "GenerationRecord",
    "GenerationStateError",
    "GenerationStatus",
    "GuildPolicy",
    "InteractionRef",
    "JobLimitReached",
    "JobLimits",
    "Lease",
    "LimitSource",
    "MemberContext",
    "MemberTotal",
    "Preferences",
    "PruneBatch",
    "QuotaExceeded",
    "Reservation",
    "Store",
    "StoreConfigError",
    "StoreError",
    "Style",
    "UnsupportedDatabase",
    "UsageSummary",
]


class StoreError(Exception):
    """Base class for storage failures the caller can act on."""


class StoreConfigError(StoreError, ValueError):
    """DATABASE_URL cannot be used. Messages never repeat the URL (it may hold a password)."""


class UnsupportedDatabase(StoreConfigError, NotImplementedError):
    """A database the interface allows but this build has no implementation for yet."""


class GenerationNotFound(StoreError, LookupError):
    """No generation with that id: a caller kept an id the store never issued."""


class GenerationStateError(StoreError):
    """A lifecycle call that does not fit the generation's current status.

    For example completing a generation that was already cancelled. The job runner
    should treat it as "someone else already settled this request", never charge twice.
    """

    def __init__(self, generation_id: int, status: GenerationStatus, action: str) -> None:
        self.generation_id = generation_id
        self.status = status
        self.action = action
        super().__init__(f"cannot {action} generation {generation_id}: it is already {status}")


class GenerationStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def in_flight(self) -> bool:
        """In-flight generations hold a reservation; finished ones hold what they delivered."""
        return self in (GenerationStatus.QUEUED, GenerationStatus.RUNNING)


class AuditAction(StrEnum):
    """What a moderator changed; ``AuditEntry.target_id`` says which member/role/channel."""

    MEMBER_LIMIT = "member_limit"  # target_id = user id
    ROLE_LIMIT = "role_limit"  # target_id = role id
    DEFAULT_LIMIT = "default_limit"
    SERVER_BUDGET = "server_budget"
    RESET_USAGE = "reset_usage"  # target_id = user id; old = images cleared, new = "0"
    ALLOW_CHANNEL = "allow_channel"  # target_id = channel id
    DISALLOW_CHANNEL = "disallow_channel"  # target_id = channel id
    BLOCK_WORD = "block_word"  # new = the word
    UNBLOCK_WORD = "unblock_word"  # old = the word
    NSFW_SAFETY = "nsfw_safety"  # values "on" / "off", None = not set
    LOG_CHANNEL = "log_channel"  # target_id = the new channel (None = off); values channel ids
    LANGUAGE = "public_language"  # values Discord locale codes, None = the server's own
    ADD_STYLE = "add_style"  # new = "name: text" (old = the text it replaced, if any)
    REMOVE_STYLE = "remove_style"  # old = the name


class Reach(StrEnum):
    """How a job's result may reach the member (see migration 0012)."""

    CHANNEL = "channel"  # public; the bot may post in the channel after the token expires
    INTERACTION = "interaction"  # public; the bot is no member there: the interaction only
    PRIVATE = "private"  # ephemeral from acknowledgement to result; never in the channel

    @property
    def channel_allowed(self) -> bool:
        """Whether the bot may post this job's result or outcome in the channel."""
        return self is Reach.CHANNEL


@dataclass(frozen=True)
class GenerationParams:
    """Everything the image API is asked for; stored so a re-roll can repeat it."""

    prompt: str
    width: int
    height: int
    size_preset: str | None
    steps: int
    guidance: float
    acceleration: str
    seed: int
    safety_checker: bool
    count: int
    style_name: str | None = None  # the server style joined to the prompt, as named
    style_text: str | None = None  # its text as it was sent (the style may change later)


@dataclass(frozen=True)
class MemberContext:
    """Who asks, and where: the Discord facts the quota depends on, as plain ints."""

    guild_id: int
    channel_id: int
    user_id: int
    role_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Reservation:
    """Images held for one request. Settle it with complete/fail/cancel, exactly once."""

    generation_id: int
    limit: EffectiveLimit
    remaining_after: int
    reset_at: datetime


@dataclass(frozen=True)
class GenerationRecord:
    """One usage-log row, every column (re-roll/edit buttons and CSV export read it)."""

    id: int
    parent_id: int | None
    guild_id: int
    channel_id: int
    user_id: int
    params: GenerationParams
    status: GenerationStatus
    reserved: int
    delivered: int
    error_class: str | None
    latency_ms: int | None
    message_id: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    token_expires_at: datetime | None = None
    delivery_started_at: datetime | None = None
    interaction_token: str | None = field(default=None, repr=False)  # a credential
    owner: str | None = None
    lease_until: datetime | None = None
    posted_message_id: int | None = None  # the channel message it went out as (token expired)
    cost_pico_usd: int | None = None  # estimated, 10^-12 USD; None when no price was set
    reach: Reach = Reach.CHANNEL
    locale: str = "en-US"  # the Discord locale of its public messages, decided at reserve
    member_locale: str = "en-US"  # the asking member's Discord locale: what only they read

    @property
    def charged(self) -> int:
        """Images this request counts against quotas right now."""
        return self.reserved + self.delivered


@dataclass(frozen=True)
class InteractionRef:
    """How to reach the member through their interaction: its webhook token, until expiry.

    Stored with the reservation itself, so even a process that dies a millisecond after
    acknowledging leaves enough behind for the next one to deliver in place.
    """

    token: str = field(repr=False)  # a credential
    expires_at: datetime
    reach: Reach = Reach.CHANNEL


@dataclass(frozen=True)
class Lease:
    """Which process runs a job, and until when it vouches for it.

    Several processes may share one database. The owner keeps ``until`` in the future
    (``Store.renew_leases``) while it lives; once ``until`` has passed the owner is
    presumed dead and another process may take the job over (``Store.claim``). ``owner``
    should be unique per process *incarnation* (e.g. host, pid and a random suffix), so a
    restarted process never mistakes a dead predecessor's live-looking jobs for its own.
    """

    owner: str
    until: datetime

    def __post_init__(self) -> None:
        if not self.owner:
            raise ValueError("a lease needs a non-empty owner")
        if self.until.tzinfo is None or self.until.utcoffset() is None:
            raise ValueError("a lease's end must be an aware datetime (e.g. datetime.now(UTC))")


@dataclass(frozen=True)
class JobLimits:
    """How much may be in flight at once: per member, and in the whole queue."""

    per_member: int | None = None
    queue: int | None = None


class JobLimitReached(StoreError):
    """The member already has ``limit`` jobs in flight, or the whole queue is full."""

    def __init__(self, scope: Literal["member", "queue"], limit: int) -> None:
        self.scope: Literal["member", "queue"] = scope
        self.limit = limit
        super().__init__(f"{scope} job limit of {limit} reached")


@dataclass(frozen=True)
class UsageSummary:
    """What ``/usage`` shows: the member's limit and where it comes from, and the server's.

    ``server_used`` is every image charged on the server today (in flight included),
    whether or not a ``server_budget`` is set; member resets do not lower it.
    """

    limit: EffectiveLimit
    used: int
    remaining: int
    reset_at: datetime
    server_budget: int | None
    server_used: int

    @property
    def server_remaining(self) -> int | None:
        if self.server_budget is None:
            return None
        return max(0, self.server_budget - self.server_used)


@dataclass(frozen=True)
class GuildPolicy:
    """All of a guild's moderator settings at one instant (``/settings show``, ``/quota view``).

    ``nsfw_safety`` is None when the guild never chose, so the environment default applies.
    ``language`` is None when moderators never chose one: public messages then follow the
    server's own Discord language.
    """

    guild_id: int
    default_limit: int | None = None
    server_budget: int | None = None
    role_limits: Mapping[int, int] = field(default_factory=dict)
    member_limits: Mapping[int, int] = field(default_factory=dict)
    allowed_channel_ids: frozenset[int] = frozenset()
    blocked_words: tuple[str, ...] = ()
    nsfw_safety: bool | None = None
    log_channel_id: int | None = None  # the moderation log; None = off
    language: str | None = None  # a Discord locale code (/settings language); None = server's

    def public_locale(self, server_locale: str) -> str:
        """The language of this server's public messages: the moderators' choice, else the
        server's own (``server_locale``, Discord's ``guild_locale``)."""
        return self.language or server_locale

    def effective_limit(
        self, user_id: int, role_ids: tuple[int, ...], *, bot_default_limit: int
    ) -> EffectiveLimit:
        """The limit a member would get, resolved exactly as ``Store.reserve`` does."""
        return resolve_limit(
            member_limit=self.member_limits.get(user_id),
            role_limits=self.role_limits,
            member_role_ids=role_ids,
            server_default=self.default_limit,
            bot_default=bot_default_limit,
        )


PERSONAL_SCOPE: int = 0
"""The preferences scope of a member's personal places (no server): no guild id is 0."""


@dataclass(frozen=True)
class Preferences:
    """A member's defaults for ``/imagine`` in one scope (a server, or ``PERSONAL_SCOPE``).

    None = not set, so ``/imagine``'s own default applies. A typed option always wins.
    ``size`` (a preset) and ``width``/``height`` exclude each other, as in ``/imagine``.
    """

    size: str | None = None
    width: int | None = None
    height: int | None = None
    steps: int | None = None
    guidance: float | None = None
    acceleration: str | None = None
    count: int | None = None
    style: str | None = None

    @property
    def empty(self) -> bool:
        return all(getattr(self, name) is None for name in self.__dataclass_fields__)


@dataclass(frozen=True)
class Style:
    """A server style: a name members pick in ``/imagine style:``, and the text it adds."""

    name: str
    text: str
    created_by: int
    created_at: datetime


@dataclass(frozen=True)
class AuditEntry:
    id: int
    guild_id: int
    actor_id: int
    action: AuditAction
    target_id: int | None
    old_value: str | None
    new_value: str | None
    at: datetime


@dataclass(frozen=True)
class DailyTotal:
    """One UTC day of a guild: images charged (delivered + still reserved), requests, failures.

    ``cost_pico_usd`` is the estimated spend in 10^-12 US dollars (exact integers, so sums
    never drift; ``bot.policy.spend`` turns it into dollars). Pruned rows still count:
    statistics read their archived totals.
    """

    day: date
    images: int
    generations: int
    failures: int
    cost_pico_usd: int = 0


@dataclass(frozen=True)
class MemberTotal:
    user_id: int
    images: int
    generations: int
    cost_pico_usd: int = 0


@dataclass(frozen=True)
class PruneBatch:
    """What one pruning step removed: how many rows, and whether older ones remain."""

    deleted: int
    more: bool


class Store(Protocol):
    """Quota accounting, usage log and moderator settings for all guilds.

    Lifecycle of a request: ``reserve`` (before deferring; raises QuotaExceeded) →
    ``mark_running`` → exactly one of ``complete`` / ``fail`` / ``cancel``. After a crash the
    next process resumes what was in flight (claimed by lease, see ``claim``).

    Several processes on one database: each in-flight job carries a ``Lease`` (its owner,
    and until when the owner vouches for it), given to ``reserve``. The owner calls
    ``renew_leases`` while alive and ``expire_leases`` when it stops; any process may
    ``claim`` a job whose lease has passed (or that has no owner: rows from before
    leases existed), and exactly one claimer wins.
    """

    async def close(self) -> None: ...

    # -- quota and usage log -------------------------------------------------------------
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
        """Atomically check the job limits and both quotas, and hold ``params.count``.

        ``interaction``, ``lease``, ``locale`` (the language of the job's public
        messages) and ``member_locale`` (the asking member's, for what only they read)
        are stored with the row, in the same transaction.
        Raises ``JobLimitReached`` (checked first) or ``QuotaExceeded``.
        """
        ...

    async def begin_delivery(
        self,
        generation_id: int,
        now: datetime | None = None,
        *,
        message_id: int | None = None,
        owner: str | None = None,
    ) -> bool:
        """Claim the right to post the result: True once per job, False ever after, except
        to ``owner`` when the row is leased to it (a retried claim whose answer was lost).

        ``message_id`` is the message the result is about to be posted into (the
        acknowledgement), kept so a process resuming after a crash can look at exactly
        that message to learn whether the result got there.
        """
        ...

    async def record_post(self, generation_id: int, message_id: int) -> None:
        """Record the channel message a result was just posted as (the token had expired),
        before it is charged, so recovery after a crash fetches exactly that message."""
        ...

    async def in_flight(self, guild_id: int | None = None) -> list[GenerationRecord]:
        """Queued and running jobs (of one guild, or all), oldest first, owners included."""
        ...

    async def renew_leases(self, owner: str, until: datetime) -> int:
        """Move the lease of every in-flight job ``owner`` holds to ``until``; returns how many.

        Jobs another process has claimed are no longer ``owner``'s and are left alone, so
        a count lower than expected means jobs were taken over (the owner looked dead).
        """
        ...

    async def claim(
        self,
        generation_id: int,
        *,
        previous_owner: str | None,
        owner: str,
        until: datetime,
        now: datetime | None = None,
    ) -> bool:
        """Take over an in-flight job whose lease has passed; True if this call took it.

        Compare-and-set: the job changes hands only if it is still in flight, its owner is
        still ``previous_owner`` (None matches a job without owner) and its lease ended at
        or before ``now`` (or it has none). So of several processes racing for one job,
        exactly one wins, and a job whose owner renewed in the meantime is not taken.
        """
        ...

    async def expire_leases(self, owner: str, now: datetime | None = None) -> int:
        """End every in-flight lease ``owner`` holds at ``now``; returns how many jobs it holds.

        For a process stopping gracefully: its unfinished jobs become claimable at once
        instead of when their leases would have run out. Never lengthens a lease.
        """
        ...

    async def mark_running(self, generation_id: int, now: datetime | None = None) -> None: ...

    async def complete(
        self,
        generation_id: int,
        *,
        delivered: int,
        latency_ms: int,
        message_id: int | None = None,
        now: datetime | None = None,
    ) -> None:
        """Charge ``delivered`` (≤ count) and refund the rest; 0 delivered counts as failed."""
        ...

    async def fail(
        self, generation_id: int, *, error_class: str, now: datetime | None = None
    ) -> None: ...

    async def cancel(self, generation_id: int, now: datetime | None = None) -> None: ...

    async def release_orphans(self, now: datetime | None = None) -> int:
        """Fail every in-flight generation as "interrupted"; returns how many.

        An administrative reset (and a test helper), not part of the bot's start-up: the bot
        resumes jobs instead, and with several processes this would refund live ones.
        """
        ...

    async def get_generation(self, generation_id: int) -> GenerationRecord | None: ...

    async def usage(
        self, member: MemberContext, *, bot_default_limit: int, now: datetime | None = None
    ) -> UsageSummary: ...

    # -- moderator settings (each change is audited; returns the previous value) ----------
    async def set_member_limit(
        self, guild_id: int, user_id: int, limit: int | None, *, actor_id: int
    ) -> int | None: ...

    async def set_role_limit(
        self, guild_id: int, role_id: int, limit: int | None, *, actor_id: int
    ) -> int | None: ...

    async def set_default_limit(
        self, guild_id: int, limit: int | None, *, actor_id: int
    ) -> int | None: ...

    async def set_server_budget(
        self, guild_id: int, limit: int | None, *, actor_id: int
    ) -> int | None: ...

    async def reset_member_usage(
        self, guild_id: int, user_id: int, *, actor_id: int, now: datetime | None = None
    ) -> int:
        """Forgive the member's images so far today (in-flight ones too); returns how many."""
        ...

    async def guild_policy(self, guild_id: int) -> GuildPolicy: ...

    async def audit_log(self, guild_id: int, *, limit: int = 10) -> list[AuditEntry]:
        """Most recent first."""
        ...

    async def allow_channel(self, guild_id: int, channel_id: int, *, actor_id: int) -> bool: ...

    async def disallow_channel(self, guild_id: int, channel_id: int, *, actor_id: int) -> bool: ...

    async def block_word(self, guild_id: int, word: str, *, actor_id: int) -> bool:
        """Block a word or phrase (audited); False if it already was. Raises
        ``bot.policy.rules.BlockedWordRefused`` (a ``ValueError``): empty, too long, list full."""
        ...

    async def unblock_word(self, guild_id: int, word: str, *, actor_id: int) -> bool:
        """Allow a word again (audited); False if it was not blocked. Raises
        ``BlockedWordRefused`` for a word that could never have been blocked."""
        ...

    async def set_nsfw_safety(
        self, guild_id: int, enabled: bool | None, *, actor_id: int
    ) -> bool | None: ...

    async def set_log_channel(
        self, guild_id: int, channel_id: int | None, *, actor_id: int
    ) -> int | None:
        """Where each generation is also posted (None: nowhere); returns the previous one."""
        ...

    async def set_language(
        self, guild_id: int, language: str | None, *, actor_id: int
    ) -> str | None:
        """The language of the server's public messages, a Discord locale code the bot
        speaks (``bot.i18n.LANGUAGES``; None: the server's own), audited; returns the
        previous choice. Raises ``ValueError`` for a language the bot does not speak."""
        ...

    # -- the member's workspace: preferences, styles, history ----------------------------
    async def preferences(self, scope_id: int, user_id: int) -> Preferences:
        """The member's defaults in ``scope_id`` (a guild id, or ``PERSONAL_SCOPE``)."""
        ...

    async def set_preferences(
        self, scope_id: int, user_id: int, preferences: Preferences, *, now: datetime | None = None
    ) -> None:
        """Replace the member's defaults in ``scope_id`` (an empty set removes the row)."""
        ...

    async def reset_preferences(self, scope_id: int, user_id: int) -> bool:
        """Forget the member's defaults in ``scope_id``; False if there were none."""
        ...

    async def styles(self, guild_id: int) -> list[Style]:
        """The server's styles, by name (case-insensitively)."""
        ...

    async def style(self, guild_id: int, name: str) -> Style | None:
        """The style called ``name`` (any case), or None."""
        ...

    async def add_style(
        self, guild_id: int, name: str, text: str, *, actor_id: int, now: datetime | None = None
    ) -> str | None:
        """Add or replace a style (audited); returns the text it replaced, or None if new.

        Raises ``bot.policy.styles.StyleRefused`` (a ``ValueError``) for a bad name or
        text, or past the per-server cap.
        """
        ...

    async def remove_style(self, guild_id: int, name: str, *, actor_id: int) -> bool: ...

    async def history(
        self, guild_id: int, user_id: int, *, limit: int, offset: int = 0
    ) -> tuple[list[GenerationRecord], int]:
        """The member's generations in the guild, newest first, and how many there are."""
        ...

    # -- statistics ------------------------------------------------------------------------
    async def daily_totals(
        self, guild_id: int, *, days: int, now: datetime | None = None
    ) -> list[DailyTotal]:
        """One entry per UTC day, oldest first, days without activity included as zeros."""
        ...

    async def top_members(
        self, guild_id: int, *, days: int, limit: int = 10, now: datetime | None = None
    ) -> list[MemberTotal]: ...

    async def export_usage(
        self, guild_id: int, *, days: int, now: datetime | None = None
    ) -> list[GenerationRecord]:
        """Every generation of the last ``days`` UTC days still kept, oldest first."""
        ...

    # -- retention -------------------------------------------------------------------------
    async def prune_generations(self, before: datetime, *, limit: int) -> PruneBatch:
        """Delete up to ``limit`` settled rows created before ``before``, in one transaction
        that first folds them into the archived daily totals statistics read.

        In-flight rows are never deleted, whatever their age. Call it repeatedly (small
        batches keep each write short, off the hot path) while ``more`` is True.
        """
        ...

    async def prune_audit_log(self, before: datetime, *, limit: int) -> PruneBatch:
        """Delete up to ``limit`` audit entries older than ``before``."""
        ...
