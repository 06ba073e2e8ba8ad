"""The path every generation takes on the Discord side: check, acknowledge, show progress, post.

``/imagine`` and the buttons under a result all go through :class:`GenerationFlow`,
so validation, quota, the safety policy and every failure message are the same
whichever way a member asked.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import discord

from bot.imaging import fit_to_size
from bot.jobs.service import GenerationService, Job, Refusal, Requester
from bot.siraya import ErrorKind, GeneratedImage, GenerationRequest, InvalidRequest, SirayaError
from bot.store.base import QuotaExceeded
from cogs.common import messages

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

PROGRESS_INTERVAL = 5.0
"""Seconds between progress edits: well inside what interaction webhooks tolerate."""

REQUEST_SIZE_LIMIT = 25 * 1024 * 1024
"""Discord refuses a whole upload over 25 MiB whatever the per-file limit."""

EXPIRED_TOKEN_CODES = frozenset({50027, 10015, 10062})
"""Codes meaning the interaction token can no longer be used: post in the channel instead."""

ViewFactory = Callable[[Job], discord.ui.View | None]


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
    return Requester(
        guild_id=interaction.guild_id or 0,
        channel_id=interaction.channel_id or 0,
        user_id=user.id,
        role_ids=roles,
        channel_is_nsfw=is_nsfw,
        parent_channel_id=parent_id,
    )


async def send_ephemeral(interaction: discord.Interaction, text: str) -> None:
    """Answer privately, whether or not the interaction was already acknowledged."""
    text = messages.clip(text, messages.CONTENT_LIMIT)
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True)
    else:
        await interaction.response.send_message(text, ephemeral=True)


class GenerationFlow:
    """Runs a member's request from the first check to the posted result."""

    def __init__(self, service: GenerationService, view_factory: ViewFactory | None = None) -> None:
        self._service = service
        self._view_factory = view_factory

    async def start(
        self,
        interaction: discord.Interaction,
        request: GenerationRequest,
        *,
        parent_id: int | None = None,
        source_url: str | None = None,
    ) -> None:
        """Refuse privately, or acknowledge publicly and see the job through.

        ``parent_id`` and ``source_url`` link a re-roll, variation or edit to its origin.
        """
        try:
            job = await self._service.submit(
                requester_from(interaction), request, parent_id=parent_id
            )
        except (InvalidRequest, Refusal) as refusal:
            await send_ephemeral(interaction, str(refusal))
            return
        except QuotaExceeded as exceeded:
            await send_ephemeral(interaction, messages.quota_exceeded(exceeded))
            return
        try:
            await interaction.response.defer(thinking=True)
        except discord.HTTPException:
            log.warning("could not acknowledge generation %s; refunding", job.generation_id)
            await self._service.abandon(job)
            return
        await self.see_through(interaction, job, source_url=source_url)

    async def see_through(
        self, interaction: discord.Interaction, job: Job, *, source_url: str | None = None
    ) -> None:
        """Show progress while the job runs, then its result or a clear failure."""
        stop_progress = asyncio.Event()
        progress = asyncio.create_task(self._show_progress(interaction, job, stop_progress))
        try:
            result = await self._service.run(job)
        except SirayaError as error:
            await self._stop(progress, stop_progress)
            _log_api_failure(job, error)
            await self._replace_progress(interaction, job, messages.api_failure(error))
            return
        except Exception:
            await self._stop(progress, stop_progress)
            log.exception("generation %s failed unexpectedly", job.generation_id)
            await self._service.failed(job, "internal")
            await self._replace_progress(interaction, job, messages.unexpected_error())
            return
        await self._stop(progress, stop_progress)

        per_file_limit = min(interaction.filesize_limit, REQUEST_SIZE_LIMIT // len(result.images))
        images = await _fit_all(result.images, per_file_limit)
        if images is None:
            await self._service.failed(job, "too_large")
            await self._replace_progress(
                interaction, job, messages.too_large_for_channel(per_file_limit)
            )
            return
        try:
            message = await self._post_result(interaction, job, images, source_url)
        except Exception:
            log.exception("could not post generation %s", job.generation_id)
            await self._service.failed(job, "delivery")
            await self._replace_progress(interaction, job, messages.delivery_failed())
            return
        await self._service.delivered(job, len(images), message_id=message.id)

    async def _show_progress(
        self, interaction: discord.Interaction, job: Job, stop: asyncio.Event
    ) -> None:
        """Edit the acknowledgement with the place in line or the elapsed time, throttled."""
        shown = ""
        while not stop.is_set():
            text = messages.progress(
                job, position=self._service.position(job), elapsed=self._service.elapsed(job)
            )
            if text != shown:
                try:
                    await interaction.edit_original_response(content=text)
                except discord.HTTPException:
                    return  # the token expired or Discord is unhappy: the result still gets posted
                shown = text
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=PROGRESS_INTERVAL)

    @staticmethod
    async def _stop(progress: asyncio.Task[None], stop: asyncio.Event) -> None:
        """Let an in-flight progress edit finish so it cannot land after the result."""
        stop.set()
        await asyncio.gather(progress, return_exceptions=True)

    async def _post_result(
        self,
        interaction: discord.Interaction,
        job: Job,
        images: Sequence[GeneratedImage],
        source_url: str | None,
    ) -> discord.Message:
        filenames = [
            f"imagine-{job.generation_id}-{index}.{image.extension}"
            for index, image in enumerate(images, start=1)
        ]
        embeds = messages.result_embeds(
            job,
            filenames=filenames,
            elapsed=self._service.elapsed(job),
            requested_by=interaction.user,
            source_url=source_url,
        )
        view = self._view_factory(job) if self._view_factory else None

        def files() -> list[discord.File]:
            return [
                discord.File(io.BytesIO(image.data), filename=name)
                for image, name in zip(images, filenames, strict=True)
            ]

        try:
            return await interaction.edit_original_response(
                content=None, embeds=embeds, attachments=files(), view=view or discord.utils.MISSING
            )
        except discord.HTTPException as error:
            if error.code not in EXPIRED_TOKEN_CODES:
                raise
        log.info("token expired for generation %s; posting in the channel", job.generation_id)
        channel = _channel_of(interaction)
        return await channel.send(
            content=f"{interaction.user.mention}, your image is ready.",
            embeds=embeds,
            files=files(),
            view=view or discord.utils.MISSING,
            allowed_mentions=discord.AllowedMentions(users=[interaction.user]),
        )

    async def _replace_progress(
        self, interaction: discord.Interaction, job: Job, text: str
    ) -> None:
        """Put a failure where the progress line was; if the token expired, mention the member."""
        try:
            await interaction.edit_original_response(content=text, embeds=[], attachments=[])
            return
        except discord.HTTPException as error:
            if error.code not in EXPIRED_TOKEN_CODES:
                log.warning(
                    "could not show failure for generation %s: %s", job.generation_id, error
                )
                return
        try:
            await _channel_of(interaction).send(
                f"{interaction.user.mention} {text}",
                allowed_mentions=discord.AllowedMentions(users=[interaction.user]),
            )
        except discord.HTTPException as error:
            log.warning(
                "could not tell the member about generation %s: %s", job.generation_id, error
            )


def _channel_of(interaction: discord.Interaction) -> discord.abc.Messageable:
    channel = interaction.channel
    if isinstance(channel, discord.abc.Messageable):
        return channel
    return interaction.client.get_partial_messageable(interaction.channel_id or 0)


async def _fit_all(images: Sequence[GeneratedImage], limit: int) -> list[GeneratedImage] | None:
    """Re-encode any image over the upload limit (in a thread: it is CPU work)."""
    fitted: list[GeneratedImage] = []
    for image in images:
        if len(image.data) <= limit:
            fitted.append(image)
            continue
        shrunk = await asyncio.to_thread(fit_to_size, image.data, limit)
        if shrunk is None:
            return None
        data, info = shrunk
        fitted.append(
            GeneratedImage(data=data, format=info.format, width=info.width, height=info.height)
        )
    return fitted


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
