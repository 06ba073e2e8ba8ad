"""The moderation log: each generation of a server, and each refusal by its rules, posted
in the channel its moderators chose (``/settings log-channel``).

Why a separate object with its own tasks: the log is for moderators, the result is for
the member, and the first must never cost the second anything. ``GenerationFlow`` calls
:meth:`ModerationLog.delivered` or :meth:`ModerationLog.refused` after the member has
their answer (and after the job is settled); each returns at once and the entry is
posted in a background task under a timeout. A log that cannot be posted (channel
deleted, permission removed, Discord slow) is a warning in the owner's logs, nothing
more. Entries mention the member without pinging them (``AllowedMentions.none()``).
The log is public to the server's moderators: it speaks the server's language (the
job's, or the requester's, both the server's at the time of the request).
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Coroutine, Sequence
from typing import Any, Final

import discord

from bot.i18n import speech
from bot.imaging import run_decoder
from bot.jobs.service import ChannelNotAllowed, Job, PromptBlocked, Refusal, Requester
from bot.siraya import GeneratedImage
from bot.store.base import Store
from bot.thumbnails import thumbnail_jpeg
from cogs.common import messages

log = logging.getLogger(__name__)

POST_TIMEOUT: Final = 20.0
"""Seconds one entry may take (policy read, thumbnail, upload) before it is dropped."""

MAX_PENDING: Final = 200
"""Entries waiting or being posted at once; beyond it new ones are dropped (and logged),
so a Discord outage cannot make the bot's memory grow without bound."""

MAX_POSTING: Final = 4
"""Entries posted at the same time; the rest wait their turn (thumbnails are CPU work)."""

THUMBNAIL_NAME: Final = "thumbnail.jpg"


def jump_url(guild_id: int, channel_id: int, message_id: int) -> str:
    """A link that opens the result in Discord (``Message.jump_url`` lacks the guild for
    messages edited through an interaction webhook)."""
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


class ModerationLog:
    """Posts log entries for the flow, never in its way."""

    def __init__(self, client: discord.Client, store: Store) -> None:
        self._client = client
        self._store = store
        self._pending: set[asyncio.Task[None]] = set()
        self._posting = asyncio.Semaphore(MAX_POSTING)

    # -- what the flow calls -----------------------------------------------------------

    def delivered(
        self, job: Job, message: discord.Message, images: Sequence[GeneratedImage]
    ) -> None:
        """A result reached the member: log who, what, a thumbnail and a link to it.

        The pending entry keeps only the first image's bytes (the one its thumbnail is
        made from), not every full-size image: up to ``MAX_PENDING`` entries can wait
        through a Discord outage, and four 2048² PNGs each would be gigabytes.
        """
        if job.guild_id:
            first = images[0].data if images else None
            work = self._post_delivery(job, message.channel.id, message.id, first, len(images))
            self._spawn(job.guild_id, work)

    def refused(self, requester: Requester, prompt: str, refusal: Exception) -> None:
        """A request was refused; only refusals by the server's own rules are logged."""
        if requester.guild_id and isinstance(refusal, ChannelNotAllowed | PromptBlocked):
            self._spawn(requester.guild_id, self._post_refusal(requester, prompt, refusal))

    async def close(self) -> None:
        """Stop posting (shutdown): entries still pending are dropped."""
        for task in list(self._pending):
            task.cancel()
        await asyncio.gather(*self._pending, return_exceptions=True)

    async def wait_idle(self) -> None:
        """Until every entry asked for so far is posted or dropped (tests, shutdown)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    # -- posting -------------------------------------------------------------------------

    def _spawn(self, guild_id: int, work: Coroutine[Any, Any, None]) -> None:
        if len(self._pending) >= MAX_PENDING:
            work.close()
            log.warning(
                "moderation log of guild %s: too many entries pending; dropped one", guild_id
            )
            return
        task = asyncio.create_task(self._guarded(guild_id, work))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _guarded(self, guild_id: int, work: Coroutine[Any, Any, None]) -> None:
        try:
            async with self._posting, asyncio.timeout(POST_TIMEOUT):
                await work
        except TimeoutError:
            log.warning("moderation log of guild %s: posting took too long; dropped", guild_id)
        except discord.HTTPException as error:
            log.warning(
                "moderation log of guild %s: Discord refused the entry (%s %s); check the "
                "bot's permissions in the log channel",
                guild_id,
                error.status,
                error.code,
            )
        except Exception:
            log.exception("moderation log of guild %s: could not post an entry", guild_id)

    async def _channel(self, guild_id: int) -> discord.abc.Messageable | None:
        policy = await self._store.guild_policy(guild_id)
        if policy.log_channel_id is None:
            return None
        found = self._client.get_channel(policy.log_channel_id)
        if isinstance(found, discord.abc.Messageable):
            return found
        return self._client.get_partial_messageable(policy.log_channel_id, guild_id=guild_id)

    def _age_restricted(self, channel: object) -> bool:
        """Whether ``channel`` is known to be age-restricted (unknown: it is not)."""
        if isinstance(channel, discord.PartialMessageable):
            channel = self._client.get_channel(channel.id)
        is_nsfw = getattr(channel, "is_nsfw", None)
        return bool(is_nsfw()) if callable(is_nsfw) else False

    def _withhold_thumbnail(self, job: Job, log_channel: discord.abc.Messageable) -> bool:
        """An image made in an age-restricted channel (perhaps with the safety checker
        off) is not copied into a log channel that is not: moderators who opted into
        NSFW content opted in where it was posted, not in the log. They follow the jump
        link to see it."""
        made_nsfw = not job.request.enable_safety_checker or self._age_restricted(
            self._client.get_channel(job.channel_id)
        )
        return made_nsfw and not self._age_restricted(log_channel)

    async def _post_delivery(
        self, job: Job, channel_id: int, message_id: int, first: bytes | None, count: int
    ) -> None:
        channel = await self._channel(job.guild_id)
        if channel is None:
            return
        withheld = first is not None and self._withhold_thumbnail(job, channel)
        thumbnail = (
            await run_decoder(thumbnail_jpeg, first) if first is not None and not withheld else None
        )
        del first  # the full-size image is not needed while the entry uploads
        content, embed = messages.log_delivered(
            speech(job.locale),
            job,
            images=count,
            jump_url=jump_url(job.guild_id, channel_id, message_id),
            thumbnail_name=THUMBNAIL_NAME if thumbnail is not None else None,
            thumbnail_withheld=withheld,
        )
        files = [discord.File(io.BytesIO(thumbnail), filename=THUMBNAIL_NAME)] if thumbnail else []
        await channel.send(
            content, embed=embed, files=files, allowed_mentions=discord.AllowedMentions.none()
        )

    async def _post_refusal(self, requester: Requester, prompt: str, refusal: Exception) -> None:
        channel = await self._channel(requester.guild_id)
        if channel is None:
            return
        # The server's public language, decided with the policy that refused (submit).
        public = refusal.public_locale if isinstance(refusal, Refusal) else None
        content, embed = messages.log_refused(
            speech(public or requester.locale),
            user_id=requester.user_id,
            channel_id=requester.channel_id,
            prompt=prompt,
            refusal=refusal,
        )
        await channel.send(content, embed=embed, allowed_mentions=discord.AllowedMentions.none())
