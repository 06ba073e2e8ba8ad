"""The path every generation takes on the Discord side: check, acknowledge, show progress, post.

``/imagine`` and the buttons under a result all go through :class:`GenerationFlow`,
so validation, quota, the safety policy and every failure message are the same
whichever way a member asked. Jobs that a previous process left unfinished come back
through :meth:`GenerationFlow.resume_all` and are shown through an :class:`Audience`
rebuilt from the database, so a restart is invisible to the member.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Literal, Protocol

import discord

from bot import metrics
from bot.i18n import Speech, speech
from bot.imaging import NotAnImage, fit_to_size, run_decoder
from bot.joblog import job_context
from bot.jobs.service import (
    GenerationService,
    Job,
    JobCancelled,
    JobResult,
    JobState,
    Missing,
    Picture,
    Refusal,
    Requester,
    TooLateToDeliver,
)
from bot.siraya import (
    ErrorKind,
    GeneratedImage,
    GenerationRequest,
    InvalidRequest,
    InvalidResponse,
    SirayaError,
)
from bot.store.base import GenerationRecord, InteractionRef, QuotaExceeded, Reach, StoreError
from cogs.common import messages
from cogs.common.budget import acknowledgement_deadline
from cogs.common.places import (
    NotAllowedHere,
    PersonalGate,
    ledger_guild_id,
    place_of_interaction,
)
from cogs.common.voices import server_locale, to_member

log = logging.getLogger(__name__)

PROGRESS_INTERVAL = 5.0
"""Seconds between progress edits: well inside what interaction webhooks tolerate."""

FIRST_PROGRESS_AFTER = PROGRESS_INTERVAL
"""Seconds a job that got its slot at once generates before its first progress edit.

Until then Discord itself shows "<bot> is thinking…" under the deferral, which says all
an edit would: an immediate "Generating… 0 s" cost an edit and its gateway echo per job
(about a seventh of the bot's CPU per image in a burst) and told the member nothing new.
A job that has to wait in line is shown its place and the Cancel button at once."""

REQUEST_SIZE_LIMIT = 25 * 1024 * 1024
"""Discord refuses a whole upload over 25 MiB whatever the per-file limit."""

REQUEST_OVERHEAD = 256 * 1024
"""Room kept in those 25 MiB for the message JSON and the multipart framing of the files."""

DEFAULT_FILESIZE_LIMIT = 10 * 1024 * 1024
"""The upload limit of an unboosted server, used when no interaction told us better."""

HISTORY_SEARCHED = 200
"""Channel messages searched, oldest first from the delivery claim on, for a result a crash
may have posted before its id was recorded (``posted_message_id``)."""

HISTORY_CLOCK_MARGIN = timedelta(minutes=2)
"""How far before the claim that search starts: our clock and Discord's may disagree."""

SWEEP_EVERY = 30.0
"""Seconds between looks for jobs abandoned by a dead process (several processes only)."""

TOKEN_LIFETIME = timedelta(minutes=15)
TOKEN_SAFETY_MARGIN = timedelta(seconds=30)

FINISHING_MARGIN = timedelta(minutes=2)
"""Room kept for delivery when judging whether a job can finish within the token."""

EXPIRED_TOKEN_CODES = frozenset({50027, 10015, 10062})
"""Codes meaning the interaction token can no longer be used: post in the channel instead."""

DISCORD_CALL_TIMEOUT = 60.0
"""Seconds one Discord call on a job's way may take, whatever holds it (a hung connection,
an answer that never comes, a 429 asking to wait an absurd time, which discord.py would
sleep through): past it the flow falls back (a channel post, a direct message) or refunds.
Generous for a 25 MiB upload, short next to a member's patience."""

ViewFactory = Callable[[Job, Speech], discord.ui.View | None]
"""The buttons under a waiting job's progress line, labelled in the line's language."""
ResultViewFactory = Callable[[Job, Sequence[int], Speech], discord.ui.View | None]
"""The buttons under a result, given the numbers of the images it holds (U1…U4) and the
language of the result."""

Say = Callable[[Speech], str]
"""An outcome's text, built in whichever language the place it is shown in reads."""


class FlowObserver(Protocol):
    """Told about outcomes after the member has them (the moderation log, cogs/common/modlog).

    Both calls must return at once and never raise: whatever they do happens elsewhere.
    """

    def delivered(
        self, job: Job, message: discord.Message, images: Sequence[GeneratedImage]
    ) -> None: ...

    def refused(self, requester: Requester, prompt: str, refusal: Exception) -> None: ...


class TokenExpired(Exception):
    """The interaction can no longer be edited; the channel is the only way left."""


class CallStalled(Exception):
    """A Discord call took longer than its bound; whether it took effect is unknown."""


class ChannelClosed(Exception):
    """The interaction is gone and the channel may not be used: a private result, or a
    place where the bot is no member (its token would only earn a 403 there)."""


@dataclass(frozen=True)
class _Found:
    """A result a previous process posted: the message, and how many images it holds."""

    message_id: int
    images: int


@dataclass
class _Delivery:
    """What already reached the member while a job was being delivered."""

    posted: discord.Message | None = None
    count: int = 0
    in_channel: bool = False  # posted as a new channel message, not into the acknowledgement


def requester_from(interaction: discord.Interaction) -> Requester:
    """The plain facts about who asked where, for the core."""
    user = interaction.user
    roles = tuple(role.id for role in user.roles) if isinstance(user, discord.Member) else ()
    channel = interaction.channel
    is_nsfw = False
    parent_id: int | None = None
    if isinstance(channel, discord.Thread):
        parent_id = channel.parent_id
        is_nsfw = bool(channel.parent and channel.parent.is_nsfw())
    elif isinstance(channel, discord.abc.GuildChannel):
        is_nsfw = bool(getattr(channel, "nsfw", False))
    if place_of_interaction(interaction).personal:
        # The place's own roles and NSFW marks are not the owner's rules: the personal
        # quota and the bot's defaults apply.
        roles, is_nsfw = (), False
    return Requester(
        guild_id=ledger_guild_id(interaction),
        channel_id=interaction.channel_id or 0,
        user_id=user.id,
        role_ids=roles,
        channel_is_nsfw=is_nsfw,
        parent_channel_id=parent_id,
        locale=server_locale(interaction),
        member_locale=str(interaction.locale),
    )


async def send_ephemeral(interaction: discord.Interaction, text: str) -> None:
    """Answer privately, whether or not the interaction was already acknowledged."""
    text = messages.clip(text, messages.CONTENT_LIMIT)
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True)
    else:
        await interaction.response.send_message(text, ephemeral=True)


@contextlib.asynccontextmanager
async def apologising(interaction: discord.Interaction, what: str) -> AsyncIterator[None]:
    """Turn an unexpected error in a button or dialog into a private apology and a log line.

    App commands have one error handler (cogs/errors.py); component callbacks only reach
    discord.py's default, which logs and leaves the member with "This interaction failed".
    """
    try:
        yield
    except Refusal as refusal:  # e.g. the database too slow to answer before the deadline
        with contextlib.suppress(discord.HTTPException):
            await send_ephemeral(interaction, messages.refusal(to_member(interaction), refusal))
    except Exception:
        log.exception("%s by user %s failed", what, interaction.user.id)
        with contextlib.suppress(discord.HTTPException):
            await send_ephemeral(interaction, messages.unexpected_error(to_member(interaction)))


@dataclass
class Audience:
    """Where one job's progress and result are shown: the acknowledgement, or the channel.

    It also knows who reads what there (:meth:`to_member`, :meth:`in_public`): the member
    reads the ephemeral follow-ups and direct messages, everyone there the progress line
    and the result.
    """

    client: discord.Client
    channel_id: int
    user_id: int
    requester_name: str | None  # None: not known here (after a restart, a member not cached)
    requester_avatar: str | None
    filesize_limit: int
    editor: Callable[..., Awaitable[discord.Message]] | None
    acknowledgement_id: int | None = None  # the message the result will be edited into
    interaction_id: int | None = None  # a snowflake of Discord's from before any result post
    call_timeout: float = DISCORD_CALL_TIMEOUT
    reach: Reach = Reach.CHANNEL
    #: The interaction's webhook (follow-ups, deleting the acknowledgement), while usable.
    webhook: discord.Webhook | None = None
    #: When Discord stops taking the interaction's token (None: unknown, or no token).
    expires_at: datetime | None = None
    #: The member's Discord language: the interaction's, or after a restart the one the
    #: job was reserved with (``GenerationRecord.member_locale``). None: the job's.
    member_locale: str | None = None

    @classmethod
    def of_interaction(
        cls,
        interaction: discord.Interaction,
        acknowledgement_id: int | None = None,
        reach: Reach = Reach.CHANNEL,
    ) -> Audience:
        return cls(
            client=interaction.client,
            channel_id=interaction.channel_id or 0,
            user_id=interaction.user.id,
            requester_name=interaction.user.display_name,
            requester_avatar=interaction.user.display_avatar.url,
            filesize_limit=interaction.filesize_limit,
            editor=interaction.edit_original_response,
            acknowledgement_id=acknowledgement_id,
            interaction_id=interaction.id,
            reach=reach,
            webhook=interaction.followup,
            expires_at=interaction.created_at + TOKEN_LIFETIME,
            member_locale=str(interaction.locale),
        )

    @classmethod
    def of_stored_job(cls, client: discord.Client, record: GenerationRecord) -> Audience:
        """Rebuild the way to the member from the database, after a restart."""
        editor = None
        webhook = None
        token, expires = record.interaction_token, record.token_expires_at
        usable = expires is not None and datetime.now(UTC) < expires - TOKEN_SAFETY_MARGIN
        if token and usable and client.application_id:
            webhook = discord.Webhook.partial(client.application_id, token, client=client)
            # "@original" is Discord's name for the acknowledgement message of a token.
            original: Any = "@original"
            editor = partial(webhook.edit_message, original)
        user = client.get_user(record.user_id)
        return cls(
            client=client,
            channel_id=record.channel_id,
            user_id=record.user_id,
            requester_name=user.display_name if user else None,
            requester_avatar=user.display_avatar.url if user else None,
            filesize_limit=DEFAULT_FILESIZE_LIMIT,
            editor=editor,
            acknowledgement_id=record.message_id,
            reach=record.reach,
            webhook=webhook,
            expires_at=expires,
            member_locale=record.member_locale,
        )

    @property
    def mention(self) -> str:
        return f"<@{self.user_id}>"

    def to_member(self, job: Job) -> Speech:
        """The voice of what only the member reads (ephemeral follow-ups, direct messages,
        a private result): their language, as the interaction or the job's record says."""
        return speech(self.member_locale or job.member_locale)

    def in_public(self, job: Job) -> Speech:
        """The voice of the job's progress line, result and channel posts: the server's
        language (the job's), or the member's for a private result only they see."""
        return self.to_member(job) if self.reach is Reach.PRIVATE else speech(job.locale)

    @contextlib.asynccontextmanager
    async def _bounded(self) -> AsyncIterator[None]:
        """Give one call at most ``call_timeout`` seconds; :class:`CallStalled` past that."""
        try:
            async with asyncio.timeout(self.call_timeout):
                yield
        except TimeoutError as error:
            raise CallStalled() from error

    async def edit(self, **fields: Any) -> discord.Message:
        """Edit the acknowledgement; :class:`TokenExpired` when that is no longer possible."""
        if self.editor is None:
            raise TokenExpired()
        try:
            async with self._bounded():
                return await self.editor(**fields)
        except discord.HTTPException as error:
            if error.code in EXPIRED_TOKEN_CODES:
                self.editor = None
                raise TokenExpired() from error
            raise

    async def remove_acknowledgement(self) -> None:
        """Delete the public acknowledgement (its webhook, else the bot's own token where
        it may use the channel); :class:`TokenExpired` when neither is possible."""
        if self.webhook is not None and self.editor is not None:
            original: Any = "@original"
            try:
                async with self._bounded():
                    await self.webhook.delete_message(original)
                return
            except discord.NotFound:
                return  # already gone
            except discord.HTTPException as error:
                if error.code not in EXPIRED_TOKEN_CODES:
                    raise
                self.editor = None
        if not self.reach.channel_allowed or self.acknowledgement_id is None:
            raise TokenExpired()
        channel = self.client.get_partial_messageable(self.channel_id)
        with contextlib.suppress(discord.NotFound):
            async with self._bounded():
                await channel.get_partial_message(self.acknowledgement_id).delete()

    async def whisper(self, content: str) -> discord.Message:
        """An ephemeral follow-up only the member sees; :class:`TokenExpired` if too late."""
        if self.webhook is None or self.editor is None:
            raise TokenExpired()
        try:
            async with self._bounded():
                return await self.webhook.send(
                    content,
                    ephemeral=True,
                    wait=True,
                    allowed_mentions=discord.AllowedMentions.none(),
                )
        except discord.HTTPException as error:
            if error.code in EXPIRED_TOKEN_CODES:
                self.editor = None
                raise TokenExpired() from error
            raise

    async def post(self, content: str, **fields: Any) -> discord.Message:
        """A normal channel message to the member, for when the token has expired."""
        if not self.reach.channel_allowed:
            raise ChannelClosed()
        found = self.client.get_channel(self.channel_id)
        channel: discord.abc.Messageable = (
            found
            if isinstance(found, discord.abc.Messageable)
            else self.client.get_partial_messageable(self.channel_id)
        )
        async with self._bounded():
            return await channel.send(
                content,
                allowed_mentions=discord.AllowedMentions(users=[discord.Object(self.user_id)]),
                **fields,
            )

    async def direct_message(self, content: str) -> discord.Message:
        """A private message, when neither the interaction nor the channel can be used."""
        async with self._bounded():
            channel = await self.client.create_dm(discord.Object(self.user_id))
            return await channel.send(content, allowed_mentions=discord.AllowedMentions.none())

    async def fetch_acknowledgement(self) -> discord.Message | None:
        """The acknowledgement message as it is now, if known: by the bot's own token, or
        through the interaction where that token reaches nothing (a private result, a
        place without the bot: each try there would be a 403 toward Discord's ban)."""
        if not self.reach.channel_allowed:
            if self.webhook is None or self.editor is None:
                return None
            original: Any = "@original"
            async with self._bounded():
                return await self.webhook.fetch_message(original)
        if self.acknowledgement_id is None:
            return None
        channel = self.client.get_partial_messageable(self.channel_id)
        async with self._bounded():
            return await channel.fetch_message(self.acknowledgement_id)


class GenerationFlow:
    """Runs a member's request from the first check to the posted result."""

    def __init__(
        self,
        service: GenerationService,
        observer: FlowObserver | None = None,
    ) -> None:
        self._service = service
        self._observer = observer
        self._view_factory: ResultViewFactory | None = None  # see use_views
        self._cancel_view_factory: ViewFactory | None = None
        self._active: set[asyncio.Task[Any]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        #: The bound of every Discord call on a job's way (tests shorten it).
        self.call_timeout = DISCORD_CALL_TIMEOUT
        #: The owner's ``PERSONAL_USE`` promise, kept for every generating path (result
        #: buttons and dialogs carry no command check); set by the bot at start-up.
        self.personal_gate: PersonalGate | None = None
        #: When a job that started at once first shows its elapsed time (tests shorten it).
        self.progress_after = FIRST_PROGRESS_AFTER

    def tasks_in_memory(self) -> int:
        """Tasks working on a job right now (health and tests)."""
        return len(self._active)

    def use_views(
        self,
        *,
        result: ResultViewFactory | None = None,
        cancel: ViewFactory | None = None,
    ) -> None:
        """Let the cog that owns a kind of button put it under results or waiting jobs.

        The bot builds the flow before any cog loads; each cog attaches its own views when
        it loads (``cogs/results.py``, ``cogs/queue.py``), so the bot class knows no cog's
        views. Jobs are resumed only after the cogs have loaded.
        """
        if result is not None:
            self._view_factory = result
        if cancel is not None:
            self._cancel_view_factory = cancel

    async def wait_until_idle(self) -> None:
        """Return once no task works on a job (tests)."""
        while self._active:
            await asyncio.gather(*list(self._active), return_exceptions=True)

    async def start(
        self,
        interaction: discord.Interaction,
        request: GenerationRequest,
        *,
        parent_id: int | None = None,
        source_url: str | None = None,
        private: bool = False,
    ) -> None:
        """Refuse privately, or acknowledge (publicly unless ``private``) and see the job
        through.

        ``parent_id`` and ``source_url`` link a re-roll, variation or edit to its origin.
        A ``private`` job is ephemeral from the acknowledgement to the result.
        """
        place = place_of_interaction(interaction)
        if place.personal and self.personal_gate is not None:
            try:
                await self.personal_gate.check(interaction)
            except NotAllowedHere as refused:
                await send_ephemeral(interaction, refused.said(to_member(interaction)))
                return
        if private:
            way = Reach.PRIVATE
        else:
            way = Reach.CHANNEL if place.bot_can_post else Reach.INTERACTION
        if not way.channel_allowed and self._too_late_for_the_token(request.count):
            # Only the interaction can deliver here, for 15 minutes: say so now rather
            # than take a request that would end in a refund.
            minutes = int(TOKEN_LIFETIME.total_seconds() // 60)
            text = messages.finishing_too_late(to_member(interaction), minutes)
            await send_ephemeral(interaction, text)
            return
        reach = InteractionRef(
            interaction.token, interaction.created_at + TOKEN_LIFETIME, reach=way
        )
        requester = requester_from(interaction)
        try:
            job = await self._service.submit(
                requester,
                request,
                parent_id=parent_id,
                interaction=reach,
                deadline=acknowledgement_deadline(interaction),
            )
        except (InvalidRequest, Refusal) as refusal:
            await send_ephemeral(interaction, messages.refusal(to_member(interaction), refusal))
            if self._observer is not None:
                # the prompt as the rules read it: with the style's text, if any
                self._observer.refused(requester, request.api_prompt, refusal)
            return
        except QuotaExceeded as exceeded:
            text = messages.quota_exceeded(
                to_member(interaction), exceeded, has_count_option=parent_id is None
            )
            await send_ephemeral(interaction, text)
            return
        try:
            callback = await interaction.response.defer(thinking=True, ephemeral=private)
        except BaseException as error:  # a dropped connection, a timeout, a cancellation…
            log.warning(
                "could not acknowledge generation %s (%s); refunding",
                job.generation_id,
                type(error).__name__,
            )
            await asyncio.shield(self._service.abandon(job))
            if not isinstance(error, Exception):
                raise
            return
        metrics.acknowledged((discord.utils.utcnow() - interaction.created_at).total_seconds())
        acknowledgement = callback.message_id if callback is not None else None
        await self.see_through(
            Audience.of_interaction(interaction, acknowledgement, way), job, source_url=source_url
        )

    def _can_still_deliver(self, audience: Audience, count: int, *, with_queue: bool) -> bool:
        """Whether this job's result could still reach its member: always through the
        channel; otherwise only while the interaction's token outlives the job's likely
        finish (``with_queue``: the line ahead too, as after a restart). Generating what
        nobody can receive would bill the owner for images that are then refunded."""
        if audience.reach.channel_allowed:
            return True
        if audience.editor is None or audience.expires_at is None:
            return False
        if with_queue:
            needed = self._service.expected_finish(count)
        else:
            needed = self._service.own_run(count)
        usable_until = audience.expires_at - TOKEN_SAFETY_MARGIN - FINISHING_MARGIN
        return (usable_until - datetime.now(UTC)).total_seconds() > needed

    def _too_late_for_the_token(self, count: int) -> bool:
        budget = (TOKEN_LIFETIME - TOKEN_SAFETY_MARGIN - FINISHING_MARGIN).total_seconds()
        return self._service.expected_finish(count) > budget

    async def see_through(
        self, audience: Audience, job: Job, *, source_url: str | None = None
    ) -> None:
        """Show progress while the job runs, then its result or a clear failure.

        Cancelling this (shutdown) settles nothing: the job resumes at the next start.
        Anything else that goes wrong ends in a settlement (see :meth:`_settle_unexpected`).
        """
        task = asyncio.current_task()
        if task is not None:
            self._active.add(task)
        audience.call_timeout = self.call_timeout
        try:
            with job_context(job.generation_id):
                await self._see_through(audience, job, source_url)
        except asyncio.CancelledError:
            self._service.leave(job)
            raise
        except Exception:  # the settlement itself failed: the sweep takes the row over
            log.exception("generation %s could not be settled here", job.generation_id)
            self._service.leave(job)
        finally:
            if task is not None:
                self._active.discard(task)

    async def _see_through(self, audience: Audience, job: Job, source_url: str | None) -> None:
        result = await self._generate(audience, job)
        if result is None:
            return
        delivery = _Delivery()
        try:
            await self._deliver(audience, job, result, source_url, delivery)
        except Exception:
            log.exception("generation %s failed after its images arrived", job.generation_id)
            await self._settle_unexpected(audience, job, delivery)

    async def _generate(self, audience: Audience, job: Job) -> JobResult | None:
        """Wait in line and call the API, showing progress; None once the member was told
        why there is no result (the job is settled then)."""
        stop_progress = asyncio.Event()
        progress = asyncio.create_task(self._show_progress(audience, job, stop_progress))
        try:
            deliverable = partial(
                self._can_still_deliver, audience, job.request.count, with_queue=False
            )
            return await self._service.run(job, deliverable=deliverable)
        except TooLateToDeliver:
            await self._stop(progress, stop_progress)
            log.warning(
                "generation %s: its turn came too late for its interaction; refunded",
                job.generation_id,
            )
            await self._tell_privately(audience, job, messages.too_late_to_deliver)
        except JobCancelled:
            await self._stop(progress, stop_progress)
            await self._tell(audience, job, messages.cancelled)
        except SirayaError as error:
            await self._stop(progress, stop_progress)
            _log_api_failure(job, error)
            await self._tell_privately(audience, job, partial(messages.api_failure, error=error))
        except Exception:
            await self._stop(progress, stop_progress)
            log.exception("generation %s failed unexpectedly", job.generation_id)
            await self._settle_unexpected(audience, job, _Delivery())
        finally:  # also on success and on shutdown: no progress edit lands after this
            await self._stop(progress, stop_progress)
        return None

    async def _deliver(
        self,
        audience: Audience,
        job: Job,
        result: JobResult,
        source_url: str | None,
        delivery: _Delivery,
    ) -> None:
        """From "images received" to "charged or refunded": fit, claim, post, charge.

        Only the images that arrived are posted and charged; the rest are refunded by
        the same charge, and the result says which ones are missing. An image that cannot
        be decoded or fitted under the upload limit is one more missing image; only when
        none is left is the job refunded whole.
        """
        per_file_limit = min(
            audience.filesize_limit,
            (REQUEST_SIZE_LIMIT - REQUEST_OVERHEAD) // len(result.pictures),
        )
        images, unusable = await _fit_all(result.pictures, per_file_limit)
        for lost in unusable:
            _log_api_failure(job, lost.error)
        if not images:
            first = unusable[0].error
            say: Say
            if isinstance(first, _TooLarge):
                await self._service.failed(job, "too_large")
                say = partial(messages.too_large_for_channel, limit_bytes=per_file_limit)
            else:
                await self._service.failed(job, first.kind.value)
                say = partial(messages.api_failure, error=first)
            await self._tell_privately(audience, job, say)
            return
        if unusable:
            missing = sorted([*result.missing, *unusable], key=lambda m: m.number)
            result = JobResult(images, missing)
        claimed = job.delivery_verified_absent or await self._service.begin_delivery(
            job, message_id=audience.acknowledgement_id
        )
        if not claimed:
            log.warning(
                "generation %s was already being delivered; not posting twice", job.generation_id
            )
            self._service.leave(job)  # another process has it; it settles it
            return
        try:
            message = await self._post_result(audience, job, images, result, source_url, delivery)
        except Exception:
            log.exception("could not post generation %s", job.generation_id)
            await self._service.failed(job, "delivery")
            await self._tell_privately(audience, job, messages.delivery_failed)
            return
        delivery.posted, delivery.count = message, len(images)
        await self._service.delivered(job, len(images), message_id=message.id)
        if self._observer is not None:
            self._observer.delivered(job, message, [picture.image for picture in images])
        if delivery.in_channel:
            await self._point_to(audience, job, message)

    async def _point_to(self, audience: Audience, job: Job, message: discord.Message) -> None:
        """The result went out as a new message: the progress line says where, if it still
        can be edited (a stalled call, not an expired token), rather than "Generating…"."""
        if audience.editor is None:
            return
        try:
            line = messages.posted_below(audience.in_public(job), message.jump_url)
            await audience.edit(content=line, view=None)
        except (TokenExpired, CallStalled, discord.HTTPException) as error:
            log.info(
                "could not point generation %s's progress line at it: %r", job.generation_id, error
            )

    async def _settle_unexpected(self, audience: Audience, job: Job, delivery: _Delivery) -> None:
        """An error nobody foresaw: charge what the member can already see, else refund,
        and say so where the progress line was."""
        if job.settled:
            return
        if delivery.posted is not None:
            await self._service.delivered(job, delivery.count, message_id=delivery.posted.id)
            return
        await self._service.failed(job, "internal")
        await self._tell_privately(audience, job, messages.unexpected_failure)

    async def _show_progress(self, audience: Audience, job: Job, stop: asyncio.Event) -> None:
        """Edit the acknowledgement with the place in line or the elapsed time, throttled.

        While the job waits, a Cancel button sits under the line; it goes once it runs.
        A job that got its slot at once is left on Discord's "thinking…" for its first
        :attr:`progress_after` seconds (see :data:`FIRST_PROGRESS_AFTER`).
        """
        shown = ""
        voice = audience.in_public(job)
        while not stop.is_set():
            position = self._service.position(job) if job.state is JobState.QUEUED else 0
            elapsed = self._service.elapsed(job)
            if position == 0 and not shown and elapsed < self.progress_after:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.progress_after - elapsed)
                continue
            text = messages.progress(voice, job, position=position, elapsed=elapsed)
            if text != shown:
                view = None
                if position > 0 and self._cancel_view_factory is not None:
                    view = self._cancel_view_factory(job, voice)
                try:
                    await audience.edit(content=text, view=view)
                except (TokenExpired, CallStalled, discord.HTTPException):
                    return  # the result still gets posted; progress is a courtesy
                shown = text
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=PROGRESS_INTERVAL)

    @staticmethod
    async def _stop(progress: asyncio.Task[None], stop: asyncio.Event) -> None:
        """Let an in-flight progress edit finish so it cannot land after the result.

        When the flow itself is being cancelled (shutdown), no result follows: the edit is
        cancelled instead of awaited, or it could hold shutdown past its grace for as long
        as one Discord call may take.
        """
        stop.set()
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            progress.cancel()
        await asyncio.gather(progress, return_exceptions=True)

    async def _post_result(
        self,
        audience: Audience,
        job: Job,
        images: Sequence[Picture],
        result: JobResult,
        source_url: str | None,
        delivery: _Delivery,
    ) -> discord.Message:
        filenames = [
            messages.image_filename(job.generation_id, picture.number, picture.image.extension)
            for picture in images
        ]
        voice = audience.in_public(job)
        embeds = messages.result_embeds(
            voice,
            job,
            filenames=filenames,
            seeds=[(picture.number, picture.seed) for picture in images],
            elapsed=self._service.elapsed(job),
            requester_name=audience.requester_name
            or messages.unnamed_member(voice, audience.user_id),
            requester_avatar=audience.requester_avatar,
            source_url=source_url,
        )
        note = messages.images_missing(voice, result.missing, delivered=len(images))
        numbers = [picture.number for picture in images]
        view = self._view_factory(job, numbers, voice) if self._view_factory else None

        def files() -> list[discord.File]:
            return [
                discord.File(io.BytesIO(picture.image.data), filename=name)
                for picture, name in zip(images, filenames, strict=True)
            ]

        try:
            return await audience.edit(content=note, embeds=embeds, attachments=files(), view=view)
        except TokenExpired:
            log.info("token expired for generation %s; posting in the channel", job.generation_id)
        except CallStalled:
            landed = await self._result_in_acknowledgement(audience, job)
            if landed is not None:
                return landed  # the edit took effect; only its answer was lost
            log.warning(
                "editing generation %s's acknowledgement stalled; posting in the channel",
                job.generation_id,
            )
        if not audience.reach.channel_allowed:
            raise ChannelClosed()  # refunded and told privately by the caller
        delivery.in_channel = True
        try:
            message = await audience.post(
                messages.ready_in_channel(voice, audience.mention, note),
                embeds=embeds,
                files=files(),
                view=view or discord.utils.MISSING,
            )
        except CallStalled:
            landed = await self._post_that_landed(audience, job)
            if landed is None:
                raise  # surely not there, or unknowable: refunded rather than posted twice
            message = landed
        await self._service.record_post(job, message.id)
        return message

    async def _post_that_landed(self, audience: Audience, job: Job) -> discord.Message | None:
        """The channel post, if a stalled one did go out after all (its answer was lost).

        It went out at most one call bound ago, so the channel is read newest first, down
        to a message id Discord made before the post (the acknowledgement, else the
        interaction): neither a busy channel nor our clock can put it out of reach.
        """
        floor = audience.acknowledgement_id or audience.interaction_id
        since: datetime | int = floor or discord.utils.utcnow()
        try:
            async with asyncio.timeout(self.call_timeout):
                return await _posted_since(
                    audience, job.generation_id, since, oldest_first=floor is None
                )
        except (discord.HTTPException, TimeoutError):
            return None

    async def _result_in_acknowledgement(
        self, audience: Audience, job: Job
    ) -> discord.Message | None:
        """The acknowledgement, if a stalled edit did put the result into it after all."""
        try:
            message = await audience.fetch_acknowledgement()
        except (CallStalled, discord.HTTPException):
            return None
        footer = messages.generation_footer(job.generation_id)
        if message is not None and any(e.footer.text == footer for e in message.embeds):
            return message
        return None

    async def _tell(self, audience: Audience, job: Job, say: Say) -> None:
        """Put an outcome where the progress line was; failing that, mention the member in
        the channel (where the bot may); failing that too, tell them in private. Each try
        is bounded. The first two are public (the server's language), the last private."""
        text = say(audience.in_public(job))
        try:
            await audience.edit(content=text, embeds=[], attachments=[], view=None)
            return
        except TokenExpired:
            pass
        except (CallStalled, discord.HTTPException) as error:
            log.warning("could not show outcome of generation %s: %r", job.generation_id, error)
        if audience.reach.channel_allowed:
            try:
                await audience.post(f"{audience.mention} {text}")
                return
            except (CallStalled, discord.HTTPException) as error:
                log.warning("could not post outcome of generation %s: %r", job.generation_id, error)
        await self._direct_message(audience, job, say(audience.to_member(job)))

    async def _tell_privately(self, audience: Audience, job: Job, say: Say) -> None:
        """A failure after acknowledging (a refused prompt, an API failure, an unusable
        image): nothing of it stays visible to the channel. A private job's ephemeral
        line simply says it; a public one's placeholder is removed and the member told in
        an ephemeral follow-up, or by direct message once the interaction is gone: in the
        member's language, as only they read it."""
        if audience.reach is Reach.PRIVATE:
            await self._tell(audience, job, say)
            return
        text = say(audience.to_member(job))
        try:
            await audience.remove_acknowledgement()
        except TokenExpired:
            pass
        except (CallStalled, discord.HTTPException) as error:
            log.warning(
                "could not remove generation %s's placeholder: %r", job.generation_id, error
            )
        try:
            await audience.whisper(text)
            return
        except TokenExpired:
            pass
        except (CallStalled, discord.HTTPException) as error:
            log.warning("could not tell the outcome of generation %s: %r", job.generation_id, error)
        await self._direct_message(audience, job, text)

    async def _direct_message(self, audience: Audience, job: Job, text: str) -> None:
        try:
            told = messages.told_in_private(audience.to_member(job), audience.channel_id, text)
            await audience.direct_message(told)
        except (CallStalled, discord.HTTPException) as error:
            log.warning(
                "could not tell the member about generation %s anywhere: %r",
                job.generation_id,
                error,
            )

    # -- restarts ----------------------------------------------------------------------

    async def resume_all(self, client: discord.Client) -> int:
        """Take over and finish every job whose process is gone, and every job of this
        process that no task works on any more; returns how many were put back in line.

        Jobs of processes still alive (their leases are renewed) are left to them.
        """
        resumed = 0
        # Outcomes members were told but the database did not take: written first, so
        # their rows are never mistaken for work to do.
        await self._service.replay_pending()
        in_flight = await self._service.store.in_flight()
        abandoned = await self._service.leases.claim_abandoned(in_flight)
        for record in abandoned:
            try:
                resumed += await self._resume_one(client, record)
            except Exception:  # one bad record must not strand the others
                log.exception("could not resume generation %s; refunding it", record.id)
                with contextlib.suppress(Exception):
                    await self._service.store.fail(record.id, error_class="interrupted")
        # Ours, yet no task here works on them (a task that died, a reservation abandoned
        # before its acknowledgement): their member may have been told anything, so they
        # are settled by what Discord shows, never generated again.
        for record in self._service.orphaned(in_flight):
            try:
                await self._settle_orphan(client, record)
            except Exception:
                log.exception("could not settle orphaned generation %s", record.id)
        return resumed

    async def _settle_orphan(self, client: discord.Client, record: GenerationRecord) -> None:
        """Charge an orphan of this process if its result is in the channel, else refund."""
        found: _Found | Literal[False] | None = False
        if record.delivery_started_at is not None:
            audience = Audience.of_stored_job(client, record)
            audience.call_timeout = self.call_timeout
            found = await self._find_posted_result(audience, record)
        try:
            if isinstance(found, _Found):
                await self._service.store.complete(
                    record.id,
                    delivered=min(found.images, record.params.count) or 1,
                    latency_ms=0,
                    message_id=found.message_id,
                )
            else:
                log.warning("generation %s: nobody works on it here; refunding", record.id)
                await self._service.store.fail(record.id, error_class="interrupted")
        except StoreError:
            pass  # settled meanwhile (an abandoned reservation's own refund): nothing to do

    async def _resume_one(self, client: discord.Client, record: GenerationRecord) -> int:
        """Finish one job a dead process left; 1 if it was put back in line."""
        audience = Audience.of_stored_job(client, record)
        audience.call_timeout = self.call_timeout
        if record.delivery_started_at is not None:
            posted = await self._find_posted_result(audience, record)
            if posted is None:
                log.warning(
                    "generation %s: cannot tell whether it was delivered; refunding "
                    "rather than risking a duplicate",
                    record.id,
                )
                await self._service.store.fail(record.id, error_class="interrupted")
                return 0
            if isinstance(posted, _Found):
                await self._service.store.complete(
                    record.id,
                    delivered=min(posted.images, record.params.count) or 1,
                    latency_ms=0,
                    message_id=posted.message_id,
                )
                return 0
        if not self._can_still_deliver(audience, record.params.count, with_queue=True):
            log.warning(
                "generation %s: its interaction can no longer deliver it; refunding "
                "without generating",
                record.id,
            )
            await self._service.store.fail(record.id, error_class="interrupted")
            voice = speech(record.member_locale)  # only they read it: their own language
            text = messages.told_in_private(
                voice, record.channel_id, messages.too_late_to_deliver(voice)
            )
            try:
                await audience.direct_message(text)
            except (CallStalled, discord.HTTPException) as error:
                log.warning("could not tell the member about generation %s: %r", record.id, error)
            return 0
        job = self._service.resume(record)
        job.delivery_verified_absent = record.delivery_started_at is not None
        task = asyncio.create_task(self.see_through(audience, job))
        self._active.add(task)
        task.add_done_callback(self._active.discard)  # even if cancelled before it ran
        return 1

    async def _find_posted_result(
        self, audience: Audience, record: GenerationRecord
    ) -> _Found | Literal[False] | None:
        """Where the result was posted, False if surely nowhere, None if unknowable.

        First the message its id was recorded for (a channel post), then the
        acknowledgement it was being edited into, then (a crash between posting and
        recording) the channel's messages from the claim on, oldest first: so a busy
        channel since then does not hide it. Every call is bounded.
        """
        footer = messages.generation_footer(record.id)

        def is_result(message: discord.Message) -> bool:
            return any(embed.footer.text == footer for embed in message.embeds)

        if not record.reach.channel_allowed:
            # Only the interaction reaches it: look at the acknowledgement through it, or
            # (the token gone) it cannot be known.
            try:
                shown = await audience.fetch_acknowledgement()
            except (CallStalled, discord.HTTPException) as error:
                log.warning("could not look for the result of generation %s: %r", record.id, error)
                return None
            if shown is not None and is_result(shown):
                return _Found(shown.id, len(shown.attachments))
            return False if shown is not None else None
        channel = audience.client.get_partial_messageable(record.channel_id)
        if record.posted_message_id is not None:
            return await _recorded_post(channel, record, self.call_timeout)
        try:
            async with asyncio.timeout(self.call_timeout):
                if record.message_id is not None:
                    with contextlib.suppress(discord.NotFound):
                        acknowledgement = await channel.fetch_message(record.message_id)
                        if is_result(acknowledgement):
                            return _Found(acknowledgement.id, len(acknowledgement.attachments))
                assert record.delivery_started_at is not None
                found = await _posted_since(audience, record.id, record.delivery_started_at)
                if found is not None:
                    return _Found(found.id, len(found.attachments))
        except (discord.HTTPException, TimeoutError) as error:
            log.warning("could not look for the result of generation %s: %r", record.id, error)
            return None
        return False

    def start_sweeping(self, client: discord.Client, every: float = SWEEP_EVERY) -> None:
        """Keep looking for jobs whose process died, and finish them here."""
        if self._sweeper is None:
            self._service.leases.start_renewing()
            self._sweeper = asyncio.create_task(self._sweep_forever(client, every))

    async def _sweep_forever(self, client: discord.Client, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                taken = await self.resume_all(client)
            except Exception:
                log.exception("could not look for abandoned jobs")
                continue
            if taken:
                log.info("took over %d job(s) from a process that stopped answering", taken)

    async def shutdown(self, grace: float) -> int:
        """Stop taking work, give started jobs ``grace`` seconds, then stop the rest.

        Returns how many jobs were left for the next start (they stay in the database,
        their leases ended so that any process may take them at once).
        """
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
            self._sweeper = None
        left = await self._service.drain(grace)
        tasks = list(self._active)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._service.leases.stop()
        return left


async def _recorded_post(
    channel: discord.PartialMessageable, record: GenerationRecord, bound: float
) -> _Found:
    """The result whose post is known to have landed (its id was recorded after Discord
    answered): delivered, whatever reading it back says now. Deleted since (NotFound: the
    member or a moderator removed it after seeing it) or unreadable (Forbidden, 5xx, a
    timeout), it is charged for the images asked for, the only count on record."""
    assert record.posted_message_id is not None
    try:
        async with asyncio.timeout(bound):
            posted = await channel.fetch_message(record.posted_message_id)
    except (discord.HTTPException, TimeoutError) as error:
        log.info("generation %s: its post cannot be read back (%r)", record.id, error)
        return _Found(record.posted_message_id, record.params.count)
    return _Found(posted.id, len(posted.attachments))


async def _posted_since(
    audience: Audience,
    generation_id: int,
    since: datetime | int,
    *,
    oldest_first: bool = True,
) -> discord.Message | None:
    """The bot's result message for ``generation_id`` in the channel after ``since`` (a
    message id Discord made, or our clock's time less :data:`HISTORY_CLOCK_MARGIN`), read
    oldest first (recovery, long after: later chatter cannot push it out of reach) or
    newest first (just after a stalled post: earlier chatter cannot), or None.

    Unbounded itself: callers give it their deadline. Raises ``discord.HTTPException``.
    """
    footer = messages.generation_footer(generation_id)
    me = audience.client.user.id if audience.client.user else 0
    channel = audience.client.get_partial_messageable(audience.channel_id)
    floor = (
        since
        if isinstance(since, int)
        else discord.utils.time_snowflake(since - HISTORY_CLOCK_MARGIN)
    )
    after = discord.Object(floor)
    history = channel.history(limit=HISTORY_SEARCHED, after=after, oldest_first=oldest_first)
    async for message in history:
        if message.author.id == me and any(e.footer.text == footer for e in message.embeds):
            return message
    return None


class _TooLarge(InvalidResponse):
    """An image over the upload limit even after compressing it."""


async def _fit_all(pictures: Sequence[Picture], limit: int) -> tuple[list[Picture], list[Missing]]:
    """Re-encode any image over the upload limit (in the bounded decoding pool: CPU work);
    the images that fit, and those that cannot be decoded or made to fit, as missing."""
    fitted: list[Picture] = []
    unusable: list[Missing] = []
    for picture in pictures:
        image = picture.image
        if len(image.data) <= limit:
            fitted.append(picture)
            continue
        try:
            shrunk = await run_decoder(fit_to_size, image.data, limit)
        except NotAnImage as error:  # the header looked fine but the pixels cannot be read
            lost = InvalidResponse(f"image {picture.number} cannot be decoded: {error}")
            unusable.append(Missing(picture.number, picture.seed, lost))
            continue
        if shrunk is None:
            too_large = _TooLarge(f"image {picture.number} is over the upload limit")
            unusable.append(Missing(picture.number, picture.seed, too_large))
            continue
        data, info = shrunk
        image = GeneratedImage(data=data, format=info.format, width=info.width, height=info.height)
        fitted.append(replace(picture, image=image))
    return fitted, unusable


def _log_api_failure(job: Job, error: SirayaError) -> None:
    if error.kind is ErrorKind.AUTH:
        log.critical(
            "The image API rejected SIRAYA_API_KEY (401). Fix the key in .env; "
            "generation %s failed.",
            job.generation_id,
        )
    elif error.kind is ErrorKind.OUT_OF_CREDIT:
        log.error(
            "The image API account is out of credit (402); generation is paused until "
            "it is topped up. Generation %s failed.",
            job.generation_id,
        )
    else:
        log.warning("generation %s failed: %s", job.generation_id, error.kind.value)
