"""The life of one generation, from a member's request to a charged (or refunded) result.

Everything that can refuse a request runs in :meth:`GenerationService.submit`, before
the Discord side acknowledges the interaction: that keeps refusals ephemeral and
private. Everything slow happens in :meth:`GenerationService.run`, after the
acknowledgement. The quota reservation taken in ``submit`` is settled exactly once,
by :meth:`delivered`, :meth:`failed`, :meth:`cancel` or :meth:`abandon`, so no image is
charged that was not delivered.

Jobs live in the database (a generations row is the job), so a restart loses none:
:meth:`resume` puts a stored job back in line. During shutdown, :meth:`drain` stops
new work and lets running jobs finish; what is still queued stays queued in the
database for the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Protocol, TypeVar

from bot import metrics
from bot.jobs import remix
from bot.jobs.leases import LeaseKeeper
from bot.jobs.scheduler import FairScheduler, Ticket
from bot.policy import rules
from bot.policy.places import NO_SERVER
from bot.siraya import GeneratedImage, GenerationRequest, GenerationResult, SirayaError
from bot.store.base import (
    GenerationParams,
    GenerationRecord,
    GuildPolicy,
    InteractionRef,
    JobLimitReached,
    JobLimits,
    MemberContext,
    Store,
    StoreError,
)

log = logging.getLogger(__name__)

SETTLE_RETRY_DELAYS = (0.5, 2.0, 5.0)
"""Pauses between attempts of a write on a job's way to its outcome when the database hiccups."""

PENDING_WRITES_AT_EXIT = 5.0
"""Seconds shutdown gives outcomes the database did not take yet, on top of the grace."""

T = TypeVar("T")

ACKNOWLEDGE_BUDGET = 1.5
"""Seconds the work before an interaction's acknowledgement may take, database included.

Discord kills an interaction not answered within 3 s of being sent; network time both
ways and the callback itself come out of those 3 s too, so the checks and the
reservation get half. Past it the member is told the bot is busy (:class:`Busy`) and
nothing is reserved. Independent of SQLite's busy timeout, which is longer so that the
writes after the acknowledgement (settlements) ride out a lock instead of failing.
"""


TYPICAL_RUN_SECONDS = 20.0
"""What one job is assumed to take before the API has been timed."""


class ImageGenerator(Protocol):
    """What the service needs from the API client (a stub in unit tests)."""

    async def generate(
        self, request: GenerationRequest, *, on_generated: Callable[[], None] | None = None
    ) -> GenerationResult: ...


class Refusal(Exception):
    """A request the bot will not take now.

    ``str()`` is English, for the logs. The member reads it in their own language from the
    exception's type and fields (``cogs.common.messages.refusal``, one catalog text per
    type), so a refusal carries as fields whatever its sentence needs.
    """

    public_locale: str | None = None
    """For a refusal by the server's rules: the language of the server's public messages
    (the moderation log reports it in it), decided with the policy that refused."""


class ChannelNotAllowed(Refusal):
    def __init__(self, allowed_channel_ids: tuple[int, ...]) -> None:
        self.allowed_channel_ids = allowed_channel_ids
        super().__init__("Image generation is not enabled in this channel.")


class PromptBlocked(Refusal):
    def __init__(self, matched: str) -> None:
        self.matched = matched
        super().__init__(f"Your prompt contains “{matched}”, which this server does not allow.")


class TooManyJobs(Refusal):
    def __init__(self, limit: int) -> None:
        self.limit = limit
        jobs = "request" if limit == 1 else "requests"
        super().__init__(
            f"You already have {limit} {jobs} waiting or generating. "
            "Wait for one to finish, then try again."
        )


class QueueFull(Refusal):
    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(
            f"The bot is very busy: {limit} requests are already waiting. "
            "Please try again in a few minutes."
        )


class Busy(Refusal):
    """The database did not answer within the acknowledgement budget; nothing was reserved."""

    def __init__(self) -> None:
        super().__init__("⏳ The bot is busy right now. Please try again in a moment.")


class ShuttingDown(Refusal):
    def __init__(self) -> None:
        super().__init__("The bot is restarting. Please try again in a minute.")


class JobCancelled(Exception):
    """The job was cancelled while it waited; it has been refunded."""


class TooLateToDeliver(Exception):
    """The job's turn came too late for the only way to reach its member (an interaction
    token near its end); it has been refunded without asking the API."""


@dataclass(frozen=True)
class Requester:
    """Who asked, and where: the Discord facts the core needs, as plain values."""

    guild_id: int
    channel_id: int
    user_id: int
    role_ids: tuple[int, ...]
    channel_is_nsfw: bool
    parent_channel_id: int | None = None  # a thread's channel, whose rules it follows
    locale: str = "en-US"
    """The Discord locale public messages about this request use (the server's language)."""
    member_locale: str = "en-US"
    """The asking member's Discord locale: what only they read (follow-ups, direct messages,
    a private result), kept with the job so a restart does not change it."""

    @property
    def member(self) -> MemberContext:
        return MemberContext(
            guild_id=self.guild_id,
            channel_id=self.channel_id,
            user_id=self.user_id,
            role_ids=self.role_ids,
        )


class JobState(enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"


class CancelOutcome(enum.Enum):
    CANCELLED = "cancelled"
    NOT_ALLOWED = "not_allowed"
    ALREADY_RUNNING = "already_running"
    UNKNOWN = "unknown"  # finished, or not in this process's queue


@dataclass(frozen=True)
class Picture:
    """One image that arrived: its number in the request (image k, shown as U<k>), its seed."""

    number: int
    seed: int
    image: GeneratedImage


@dataclass(frozen=True)
class Missing:
    """One image the provider did not make; it is refunded, and the member told which."""

    number: int
    seed: int
    error: SirayaError


@dataclass(frozen=True)
class JobResult:
    """What a job's API requests brought back, in image order: at least one picture."""

    pictures: list[Picture]
    missing: list[Missing] = field(default_factory=list)

    @property
    def images(self) -> list[GeneratedImage]:
        return [picture.image for picture in self.pictures]


@dataclass(eq=False)
class Job:
    """One accepted request: its id, its place in line, its timing.

    ``tickets`` holds one scheduler slot per image (each image is its own API request);
    the first is the job's place in line.
    """

    generation_id: int
    guild_id: int
    channel_id: int
    user_id: int
    request: GenerationRequest
    tickets: tuple[Ticket, ...]
    submitted_at: float
    parent_id: int | None = None
    locale: str = "en-US"  # the language of its public messages (Requester.locale)
    member_locale: str = "en-US"  # the asking member's, for what only they read
    resumed: bool = False
    delivery_verified_absent: bool = False  # resumed after a crash mid-post, result not found
    state: JobState = JobState.QUEUED
    started_at: float | None = None
    settled: bool = field(default=False, repr=False)
    cancel_requested: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def ticket(self) -> Ticket:
        """The first image's slot: the job's place in line."""
        return self.tickets[0]


def _check_rules(requester: Requester, request: GenerationRequest, policy: GuildPolicy) -> None:
    """Refuse a request the server's rules forbid (the channel, a blocked word)."""
    if not rules.channel_allowed(
        requester.channel_id,
        policy.allowed_channel_ids,
        parent_channel_id=requester.parent_channel_id,
    ):
        raise ChannelNotAllowed(tuple(sorted(policy.allowed_channel_ids)))
    # The style's words reach the API too, so the rules read the prompt as sent.
    matched = rules.find_blocked_word(request.api_prompt, policy.blocked_words)
    if matched is not None:
        raise PromptBlocked(matched)


class GenerationService:
    """Validates, charges, schedules and settles generations. Knows nothing of Discord."""

    def __init__(
        self,
        generator: ImageGenerator,
        store: Store,
        scheduler: FairScheduler,
        *,
        bot_default_limit: int,
        nsfw_safety_default: bool,
        personal_daily_limit: int = 0,
        job_limits: JobLimits | None = None,
        leases: LeaseKeeper | None = None,
        settle_retry_delays: Sequence[float] = SETTLE_RETRY_DELAYS,
        acknowledge_budget: float = ACKNOWLEDGE_BUDGET,
        rng: random.Random | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._generator = generator
        self._store = store
        self._scheduler = scheduler
        self._bot_default_limit = bot_default_limit
        self._personal_daily_limit = personal_daily_limit
        #: Seconds one job is taking lately (a moving average; tests may set it).
        self.typical_run = TYPICAL_RUN_SECONDS
        self._nsfw_safety_default = nsfw_safety_default
        self._job_limits = job_limits or JobLimits()
        self.retry_delays = tuple(settle_retry_delays)
        self._acknowledge_budget = acknowledge_budget
        self.leases = leases or LeaseKeeper(store)
        self._rng = rng or random.SystemRandom()
        self._monotonic = monotonic
        self._jobs: dict[int, Job] = {}
        self._unattended: frozenset[int] = frozenset()
        #: Outcomes the member was told but the database never took, by generation id:
        #: the sweep writes them (:meth:`replay_pending`), it never runs such a job again.
        self._pending_writes: dict[int, Callable[[], Awaitable[None]]] = {}
        self._draining = asyncio.Event()
        self._settled_one = asyncio.Event()

    @property
    def store(self) -> Store:
        return self._store

    @property
    def bot_default_limit(self) -> int:
        return self._bot_default_limit

    def _rounds(self, count: int) -> int:
        """Rounds of the slots a job of ``count`` images needs once its turn comes."""
        return -(-max(1, count) // max(1, self._scheduler.capacity))

    def _learn_duration(self, seconds: float, count: int = 1) -> None:
        """A moving average of how long one round of the slots takes (for
        :meth:`expected_finish`): a job's time shared among the rounds it needed."""
        per_round = max(0.0, seconds) / self._rounds(count)
        self.typical_run = 0.8 * self.typical_run + 0.2 * per_round

    def own_run(self, count: int = 1) -> float:
        """Seconds a job of ``count`` images likely takes once its turn has come."""
        return self._rounds(count) * self.typical_run

    def expected_finish(self, count: int = 1) -> float:
        """Seconds a job of ``count`` images submitted now would likely take to finish: the
        images ahead of it shared among the slots, plus its own images' rounds (a count-4
        job on one slot needs four). Where only the interaction (15 minutes) can deliver,
        a request unlikely to make it is refused up front."""
        ahead = self._scheduler.running + self._scheduler.waiting
        rounds = ahead // max(1, self._scheduler.capacity)
        return rounds * self.typical_run + self.own_run(count)

    def default_limit_for(self, guild_id: int) -> int:
        """The daily limit where no moderator set one: a server's default, or the personal
        quota (``PERSONAL_DAILY_LIMIT``) for every place outside servers together."""
        return self._personal_daily_limit if guild_id == NO_SERVER else self._bot_default_limit

    @property
    def draining(self) -> bool:
        return self._draining.is_set()

    async def wait_until_draining(self) -> None:
        """Returns once shutdown has begun (health checks and tests watch for it)."""
        await self._draining.wait()

    def job(self, generation_id: int) -> Job | None:
        """The live job with this id in this process, if any."""
        return self._jobs.get(generation_id)

    def jobs_in_memory(self) -> int:
        """Jobs this process holds (waiting, running or being settled): health and tests."""
        return len(self._jobs)

    def slots_in_use(self) -> int:
        """API slots held, and tickets still in line."""
        return self._scheduler.running + self._scheduler.waiting

    async def submit(
        self,
        requester: Requester,
        request: GenerationRequest,
        *,
        parent_id: int | None = None,
        interaction: InteractionRef | None = None,
        deadline: float | None = None,
    ) -> Job:
        """Check everything local and reserve quota; raise a user-readable refusal otherwise.

        ``parent_id`` links a re-roll, variation or edit to the generation it came from.
        ``deadline`` (event-loop time) is when the caller must acknowledge the member;
        by default :data:`ACKNOWLEDGE_BUDGET` from now. A database too slow for it gives
        :class:`Busy`; ``Store.reserve`` then drops the reservation if it had not been
        written yet, or refunds it if it was being committed that instant.
        Raises ``InvalidRequest``, :class:`Refusal` or ``QuotaExceeded``.
        """
        if self.draining:
            raise ShuttingDown()
        request.validate()
        loop = asyncio.get_running_loop()
        if deadline is None:
            deadline = loop.time() + self._acknowledge_budget
        try:
            async with asyncio.timeout_at(deadline):
                return await self._check_and_reserve(requester, request, parent_id, interaction)
        except TimeoutError:
            log.warning(
                "the database was too slow to answer before the acknowledgement; "
                "told user %s the bot is busy",
                requester.user_id,
            )
            raise Busy() from None

    async def _check_and_reserve(
        self,
        requester: Requester,
        request: GenerationRequest,
        parent_id: int | None,
        interaction: InteractionRef | None,
    ) -> Job:
        """The part of :meth:`submit` that reads and writes the database."""
        policy = await self._store.guild_policy(requester.guild_id)
        # The job's public messages (progress, result, log entry) are in the server's
        # language: the moderators' choice if they made one, else the server's own.
        locale = policy.public_locale(requester.locale)
        try:
            _check_rules(requester, request, policy)
        except Refusal as refusal:
            refusal.public_locale = locale
            raise
        safety = rules.safety_checker_enabled(
            channel_is_nsfw=requester.channel_is_nsfw,
            guild_nsfw_safety=policy.nsfw_safety,
            default_nsfw_safety=self._nsfw_safety_default,
        )
        request = request.with_random_seed(self._rng) if request.seed is None else request
        request = replace(request, enable_safety_checker=safety)
        try:
            reservation = await self._store.reserve(
                requester.member,
                _params(request),
                bot_default_limit=self.default_limit_for(requester.guild_id),
                parent_id=parent_id,
                job_limits=self._job_limits,
                interaction=interaction,
                lease=self.leases.new_lease(),
                locale=locale,
                member_locale=requester.member_locale,
            )
        except JobLimitReached as reached:
            if reached.scope == "member":
                raise TooManyJobs(reached.limit) from None
            raise QueueFull(reached.limit) from None
        return self._admit(
            Job(
                generation_id=reservation.generation_id,
                guild_id=requester.guild_id,
                channel_id=requester.channel_id,
                user_id=requester.user_id,
                request=request,
                tickets=self._tickets(requester.user_id, request.count),
                submitted_at=self._monotonic(),
                parent_id=parent_id,
                locale=locale,
                member_locale=requester.member_locale,
            )
        )

    def resume(self, record: GenerationRecord) -> Job:
        """Put a job a previous process left in flight back in line (already charged)."""
        return self._admit(
            Job(
                generation_id=record.id,
                guild_id=record.guild_id,
                channel_id=record.channel_id,
                user_id=record.user_id,
                request=remix.request_from(record.params),
                tickets=self._tickets(record.user_id, record.params.count),
                submitted_at=self._monotonic(),
                parent_id=record.parent_id,
                locale=record.locale,
                member_locale=record.member_locale,
                resumed=True,
            )
        )

    def _tickets(self, user_id: int, count: int) -> tuple[Ticket, ...]:
        """A slot per image, queued together so a job's images follow one another in
        line (other members' jobs still take their turns in between)."""
        return tuple(self._scheduler.enqueue(user_id) for _ in range(max(1, count)))

    def _release(self, job: Job) -> None:
        for ticket in job.tickets:
            self._scheduler.release(ticket)

    def _admit(self, job: Job) -> Job:
        self._jobs[job.generation_id] = job
        self._report_queue()
        return job

    async def _settle(
        self,
        job: Job,
        write: Callable[[], Awaitable[None]],
        status: str,
        error_class: str | None = None,
    ) -> None:
        """Settle ``job`` once. It leaves the line at once, but stays a job of this process
        until the database has recorded the outcome, so a shutdown waits for that write.
        """
        if job.settled:
            return
        job.settled = True
        job.state = JobState.FINISHED
        self._release(job)
        try:
            await self._write_with_retries(job, write)
        finally:
            self._jobs.pop(job.generation_id, None)
            self._settled_one.set()
            self._report_queue()
        metrics.generation_finished(status, error_class, self.elapsed(job))

    async def _write_with_retries(self, job: Job, write: Callable[[], Awaitable[None]]) -> None:
        """Record an outcome, riding out a brief database hiccup. The member already has
        their answer; if the database stays away, the write is kept (``_pending_writes``)
        and the sweep replays it (:meth:`replay_pending`) until it lands, so the row ends
        as the member was told: never generated, charged or posted a second time."""
        try:
            await self.retrying(job, write)
        except StoreError:
            raise  # the row says something else happened to it: not a hiccup
        except Exception:
            self._pending_writes[job.generation_id] = write
            log.exception(
                "could not record the outcome of generation %s; the sweep will write it",
                job.generation_id,
            )

    def pending_writes(self) -> int:
        """Outcomes told to members but not yet in the database (health and tests)."""
        return len(self._pending_writes)

    async def replay_pending(self) -> int:
        """Try once more every outcome the database did not take; returns how many landed.

        A :class:`StoreError` means the row is settled already (by this very write whose
        answer was lost, or by an operator): nothing is left to write either way.
        """
        landed = 0
        for generation_id, write in list(self._pending_writes.items()):
            try:
                await write()
            except StoreError:
                log.info("generation %s was settled already; dropping its write", generation_id)
            except Exception:
                log.warning(
                    "the outcome of generation %s still cannot be written",
                    generation_id,
                    exc_info=True,
                )
                continue
            else:
                landed += 1
            self._pending_writes.pop(generation_id, None)
        return landed

    async def retrying(self, job: Job, write: Callable[[], Awaitable[T]]) -> T:
        """Run one database write of ``job``'s, riding out a brief hiccup (a dropped
        PostgreSQL connection, a locked SQLite file); the last failure propagates.

        A :class:`StoreError` is an answer, not a hiccup (the row is in another state),
        and is never retried.
        """
        for delay in self.retry_delays:
            try:
                return await write()
            except StoreError:
                raise
            except Exception:
                log.warning(
                    "a write for generation %s failed; retrying in %.1f s",
                    job.generation_id,
                    delay,
                    exc_info=True,
                )
                await asyncio.sleep(delay)
        return await write()

    def orphaned(self, in_flight: Sequence[GenerationRecord]) -> list[GenerationRecord]:
        """Jobs leased to this process that no task here works on any more.

        A task that died, or a reservation abandoned before its acknowledgement (whose
        background refund has not landed yet), leaves its row in flight with a lease this
        process keeps renewing: nobody else would ever take it. Its member may have been
        told anything already ("busy", "not charged"), so the caller must refund such a
        row, never run it again. Settlements waiting to be written are not orphans: they
        are replayed (:meth:`replay_pending`).
        A row counts only once it was seen unattended by two sweeps in a row, so a job
        between its reservation and its admission, or between its last write and leaving
        the map, is never mistaken for one. The memory kept is the last sweep's ids only.
        """
        mine = {
            record.id: record
            for record in in_flight
            if record.owner == self.leases.owner
            and record.id not in self._jobs
            and record.id not in self._pending_writes
        }
        seen_before, self._unattended = self._unattended, frozenset(mine)
        return [record for job_id, record in mine.items() if job_id in seen_before]

    def _report_queue(self) -> None:
        metrics.queue_depth(self._scheduler.waiting)

    def position(self, job: Job) -> int:
        """Place in line (1 = next), 0 once running."""
        return self._scheduler.position(job.ticket)

    def elapsed(self, job: Job) -> float:
        return self._monotonic() - job.submitted_at

    async def run(self, job: Job, *, deliverable: Callable[[], bool] | None = None) -> JobResult:
        """Wait for a slot (or a cancel), then ask the API for each image on its own.

        Image k is requested alone with seed ``seed + k - 1``, concurrently, each request
        holding a slot of its own while the provider works on it. If every image fails,
        the reservation is refunded and the first error raised; otherwise the images that
        arrived are returned with the ones that did not (:class:`JobResult`), and the
        caller charges what it delivers. A cancel refunds everything. A
        ``CancelledError`` (the process is shutting down) settles nothing: the job stays
        in the database and is resumed at the next start, its seeds unchanged.
        ``deliverable`` is asked once the slot is granted: False (the result could no
        longer reach the member) refunds the job and raises :class:`TooLateToDeliver`
        before the API bills anything.
        """
        try:
            await self._wait_for_slot(job)
            self._report_queue()
            if self.draining:
                await self._wait_for_shutdown(job)
            if deliverable is not None and not deliverable():
                await self.failed(job, "interrupted")
                raise TooLateToDeliver()
            job.state = JobState.RUNNING
            job.started_at = self._monotonic()
            if not job.resumed:
                await self.retrying(job, partial(self._store.mark_running, job.generation_id))
            requests = job.request.image_requests()
            outcomes = await asyncio.gather(
                *(
                    self._one_image(ticket, request)
                    for ticket, request in zip(job.tickets, requests, strict=True)
                ),
                return_exceptions=True,
            )
            if job.started_at is not None:
                self._learn_duration(self._monotonic() - job.started_at, len(requests))
        finally:
            self._release(job)
        pictures: list[Picture] = []
        missing: list[Missing] = []
        for number, (request, outcome) in enumerate(zip(requests, outcomes, strict=True), 1):
            assert request.seed is not None
            if isinstance(outcome, SirayaError):
                missing.append(Missing(number, request.seed, outcome))
            elif isinstance(outcome, BaseException):
                raise outcome  # nobody foresaw it: the flow settles what it can
            else:
                pictures += [Picture(number, request.seed, image) for image in outcome.images[:1]]
        if not pictures:
            error = missing[0].error
            await self.failed(job, error.kind.value)
            raise error
        return JobResult(pictures, missing)

    async def _one_image(self, ticket: Ticket, request: GenerationRequest) -> GenerationResult:
        """One image's request, in its own slot; the slot is free once the provider
        answered (the download does not hold it)."""
        await self._scheduler.wait(ticket)
        try:
            return await self._generator.generate(
                request, on_generated=partial(self._scheduler.release, ticket)
            )
        finally:
            self._scheduler.release(ticket)

    async def _wait_for_slot(self, job: Job) -> None:
        slot = asyncio.ensure_future(self._scheduler.wait(job.ticket))
        cancel = asyncio.ensure_future(job.cancel_requested.wait())
        try:
            await asyncio.wait({slot, cancel}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            cancel.cancel()
            if not slot.done():
                slot.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await slot
        if job.cancel_requested.is_set() and job.state is JobState.QUEUED:
            await self._settle(job, partial(self._store.cancel, job.generation_id), "cancelled")
            raise JobCancelled()

    async def _wait_for_shutdown(self, job: Job) -> None:
        """A slot freed up during shutdown: start nothing new, stay queued for the next start."""
        self._release(job)
        await asyncio.get_running_loop().create_future()  # ends when shutdown cancels us

    def cancel(
        self,
        generation_id: int,
        *,
        actor_id: int,
        is_moderator: bool,
        guild_id: int | None = None,
    ) -> CancelOutcome:
        """Cancel a waiting job for its owner or a moderator; it is refunded as it leaves.

        ``guild_id`` is where the press came from: a job of another server is unknown
        there, whoever presses (being a moderator here says nothing about elsewhere).
        """
        job = self._jobs.get(generation_id)
        if job is None or job.state is JobState.FINISHED:
            return CancelOutcome.UNKNOWN
        if guild_id is not None and job.guild_id != guild_id:
            return CancelOutcome.UNKNOWN
        if actor_id != job.user_id and not is_moderator:
            return CancelOutcome.NOT_ALLOWED
        if job.state is JobState.RUNNING or self.position(job) == 0:
            return CancelOutcome.ALREADY_RUNNING
        job.cancel_requested.set()
        return CancelOutcome.CANCELLED

    def leave(self, job: Job) -> None:
        """This process stops working on ``job`` (shutdown) without settling it.

        The row stays queued or running in the database, and the next start resumes it.
        """
        if job.settled:
            return
        self._release(job)
        if self._jobs.pop(job.generation_id, None) is not None:
            self._settled_one.set()

    async def begin_delivery(self, job: Job, *, message_id: int | None = None) -> bool:
        """Claim the one right to post this job's result (into ``message_id``, if known).

        Idempotent for this process: a retry after a lost answer to a claim that did
        commit wins again, rather than dropping images already paid for at the API.
        """
        return await self.retrying(
            job,
            partial(
                self._store.begin_delivery,
                job.generation_id,
                message_id=message_id,
                owner=self.leases.owner,
            ),
        )

    async def record_post(self, job: Job, message_id: int) -> None:
        """Keep the id of the channel message the result just went out as, before the charge.

        Best effort: if the database stays away, the charge that follows records the id as
        well, and only a crash in between leaves recovery to search the channel.
        """
        try:
            await self.retrying(
                job, partial(self._store.record_post, job.generation_id, message_id)
            )
        except Exception:
            log.exception("could not record where generation %s was posted", job.generation_id)

    async def delivered(self, job: Job, count: int, *, message_id: int | None = None) -> None:
        """Charge the images the member actually received; refund the rest."""
        await self._settle(
            job,
            partial(
                self._store.complete,
                job.generation_id,
                delivered=count,
                latency_ms=round(self.elapsed(job) * 1000),
                message_id=message_id,
            ),
            "succeeded" if count else "failed",
            None if count else "no_images",
        )

    async def failed(self, job: Job, error_class: str) -> None:
        """Refund everything: nothing reached the member."""
        await self._settle(
            job,
            partial(self._store.fail, job.generation_id, error_class=error_class),
            "failed",
            error_class,
        )

    async def abandon(self, job: Job) -> None:
        """The request was dropped before it ran (the acknowledgement failed): leave the line."""
        await self._settle(
            job, partial(self._store.cancel, job.generation_id), "cancelled", "not_acknowledged"
        )

    async def drain(self, grace: float) -> int:
        """Refuse new work and give started jobs up to ``grace`` seconds to be delivered.

        Returns how many jobs are still unfinished; they stay in the database (queued or
        running) and are resumed at the next start.
        """
        self._draining.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._started_jobs_settled(), timeout=grace)
        if self._pending_writes:  # the last chance: the next start would run them again
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.replay_pending(), timeout=PENDING_WRITES_AT_EXIT)
        return len(self._jobs)

    async def _started_jobs_settled(self) -> None:
        while any(job.started_at is not None for job in self._jobs.values()):
            self._settled_one.clear()
            await self._settled_one.wait()


def _params(request: GenerationRequest) -> GenerationParams:
    width, height = request.dimensions
    assert request.seed is not None
    return GenerationParams(
        prompt=request.prompt,
        width=width,
        height=height,
        size_preset=request.preset,
        steps=request.steps,
        guidance=request.guidance,
        acceleration=request.acceleration,
        seed=request.seed,
        safety_checker=request.enable_safety_checker,
        count=request.count,
        style_name=request.style_name,
        style_text=request.style_text,
    )
