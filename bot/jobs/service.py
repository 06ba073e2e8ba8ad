"""The life of one generation, from a member's request to a charged (or refunded) result.

Everything that can refuse a request runs in :meth:`GenerationService.submit`, before
the Discord side acknowledges the interaction: that keeps refusals ephemeral and
private. Everything slow happens in :meth:`GenerationService.run`, after the
acknowledgement. The quota reservation taken in ``submit`` is settled exactly once,
by :meth:`delivered`, :meth:`failed` or :meth:`abandon`, so no image is charged that
was not delivered.
"""

from __future__ import annotations

import enum
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

from bot.jobs.scheduler import FairScheduler, Ticket
from bot.policy import rules
from bot.siraya import GenerationRequest, GenerationResult, SirayaError
from bot.store.base import GenerationParams, MemberContext, Reservation, Store

log = logging.getLogger(__name__)


class ImageGenerator(Protocol):
    """What the service needs from the API client (a stub in unit tests)."""

    async def generate(self, request: GenerationRequest) -> GenerationResult: ...


class Refusal(Exception):
    """A request the server's rules refuse; ``str()`` is shown to the member as is."""


class ChannelNotAllowed(Refusal):
    def __init__(self, allowed_channel_ids: tuple[int, ...]) -> None:
        self.allowed_channel_ids = allowed_channel_ids
        super().__init__("Image generation is not enabled in this channel.")


class PromptBlocked(Refusal):
    def __init__(self, matched: str) -> None:
        self.matched = matched
        super().__init__(f"Your prompt contains “{matched}”, which this server does not allow.")


@dataclass(frozen=True)
class Requester:
    """Who asked, and where: the Discord facts the core needs, as plain values."""

    guild_id: int
    channel_id: int
    user_id: int
    role_ids: tuple[int, ...]
    channel_is_nsfw: bool
    parent_channel_id: int | None = None  # a thread's channel, whose rules it follows

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


@dataclass(eq=False)
class Job:
    """One accepted request: its reservation, its place in line, its timing."""

    requester: Requester
    request: GenerationRequest
    reservation: Reservation
    ticket: Ticket
    submitted_at: float
    parent_id: int | None = None
    state: JobState = JobState.QUEUED
    started_at: float | None = None
    settled: bool = field(default=False, repr=False)

    @property
    def generation_id(self) -> int:
        return self.reservation.generation_id


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
        rng: random.Random | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._generator = generator
        self._store = store
        self._scheduler = scheduler
        self._bot_default_limit = bot_default_limit
        self._nsfw_safety_default = nsfw_safety_default
        self._rng = rng or random.SystemRandom()
        self._monotonic = monotonic

    @property
    def store(self) -> Store:
        return self._store

    @property
    def bot_default_limit(self) -> int:
        return self._bot_default_limit

    async def submit(
        self, requester: Requester, request: GenerationRequest, *, parent_id: int | None = None
    ) -> Job:
        """Check everything local and reserve quota; raise a user-readable refusal otherwise.

        ``parent_id`` links a re-roll, variation or edit to the generation it came from.
        Raises ``InvalidRequest``, :class:`Refusal` or ``QuotaExceeded``.
        """
        request.validate()
        policy = await self._store.guild_policy(requester.guild_id)
        if not rules.channel_allowed(
            requester.channel_id,
            policy.allowed_channel_ids,
            parent_channel_id=requester.parent_channel_id,
        ):
            raise ChannelNotAllowed(tuple(sorted(policy.allowed_channel_ids)))
        matched = rules.find_blocked_word(request.prompt, policy.blocked_words)
        if matched is not None:
            raise PromptBlocked(matched)
        safety = rules.safety_checker_enabled(
            channel_is_nsfw=requester.channel_is_nsfw,
            guild_nsfw_safety=policy.nsfw_safety,
            default_nsfw_safety=self._nsfw_safety_default,
        )
        request = request.with_random_seed(self._rng) if request.seed is None else request
        request = replace(request, enable_safety_checker=safety)
        reservation = await self._store.reserve(
            requester.member,
            _params(request),
            bot_default_limit=self._bot_default_limit,
            parent_id=parent_id,
        )
        ticket = self._scheduler.enqueue(requester.user_id)
        return Job(
            requester,
            request,
            reservation,
            ticket,
            submitted_at=self._monotonic(),
            parent_id=parent_id,
        )

    def position(self, job: Job) -> int:
        """Place in line (1 = next), 0 once running."""
        return self._scheduler.position(job.ticket)

    def elapsed(self, job: Job) -> float:
        return self._monotonic() - job.submitted_at

    async def run(self, job: Job) -> GenerationResult:
        """Wait for a slot, call the API. On an API error the reservation is refunded."""
        try:
            await self._scheduler.wait(job.ticket)
            job.state = JobState.RUNNING
            job.started_at = self._monotonic()
            await self._store.mark_running(job.generation_id)
            return await self._generator.generate(job.request)
        except SirayaError as error:
            await self.failed(job, error.kind.value)
            raise
        finally:
            job.state = JobState.FINISHED
            self._scheduler.release(job.ticket)

    async def delivered(self, job: Job, count: int, *, message_id: int | None = None) -> None:
        """Charge the images the member actually received; refund the rest."""
        if job.settled:
            return
        job.settled = True
        latency_ms = round(self.elapsed(job) * 1000)
        await self._store.complete(
            job.generation_id, delivered=count, latency_ms=latency_ms, message_id=message_id
        )

    async def failed(self, job: Job, error_class: str) -> None:
        """Refund everything: nothing reached the member."""
        if job.settled:
            return
        job.settled = True
        await self._store.fail(job.generation_id, error_class=error_class)

    async def abandon(self, job: Job) -> None:
        """The request was dropped before it ran (the acknowledgement failed): leave the line."""
        self._scheduler.release(job.ticket)
        job.state = JobState.FINISHED
        if not job.settled:
            job.settled = True
            await self._store.cancel(job.generation_id)


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
    )
