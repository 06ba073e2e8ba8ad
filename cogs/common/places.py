"""Where an interaction came from, and whether personal use lets this member in.

Discord tells the bot in every interaction: ``context`` (0 a server channel, 1 the bot's
DM, 2 a group DM or a DM between users) and ``authorizing_integration_owners`` (``{"0":
guild_id}`` when the server's install authorised it, ``{"1": user_id}`` when the member's
own did). This module turns that into a :class:`~bot.policy.places.Place` and keeps the
owner's ``PERSONAL_USE`` promise: with ``members``, only people who share a server with
the bot generate outside servers. Asking costs REST calls (the privileged members intent
is never used), so answers are cached for a while.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import discord
from discord import app_commands

from bot.config import PersonalUse
from bot.i18n import ENGLISH, Speech
from bot.policy.places import NO_SERVER, Place, place_of
from cogs.common import messages
from cogs.common.budget import acknowledgement_deadline

log = logging.getLogger(__name__)

MEMBER_TTL = 3600.0
"""Seconds a "yes, shares a server" answer is trusted."""

STRANGER_TTL = 600.0
"""Seconds a "no" is trusted: short, so someone who just joined a server is let in soon."""

MAX_LOOKUPS = 10
"""Servers asked at most per check (concurrently), besides those in the cache: each is one
``GET /guilds/{id}/members/{user}``. A bot in many more servers answers "no" for someone
who shares only a server further down the list until they use the bot there once."""

LOOKUP_TIMEOUT = 1.0
"""Seconds the lookups may take in all, at most: they draw on the interaction's
acknowledgement budget (:mod:`cogs.common.budget`), so never more than is left of it."""

_PASSED = "imagine.personal_ok"
"""Key in ``Interaction.extras``: the gate already let this interaction through."""


def place_of_interaction(interaction: discord.Interaction) -> Place:
    """The place this interaction came from (see :func:`bot.policy.places.place_of`)."""
    guild_id = interaction.guild_id
    bot_in_server = guild_id is not None and (
        interaction.is_guild_integration() or interaction.client.get_guild(guild_id) is not None
    )
    return place_of(
        guild_id=guild_id,
        bot_in_server=bot_in_server,
        bot_dm=bool(interaction.context.dm_channel),
    )


def ledger_guild_id(interaction: discord.Interaction) -> int:
    """The server id a generation or quota of this place is kept under: personal places
    share :data:`NO_SERVER` (one personal quota across all of them)."""
    if place_of_interaction(interaction).personal:
        return NO_SERVER
    return interaction.guild_id or NO_SERVER


class NotAllowedHere(app_commands.CheckFailure):
    """Personal use does not cover this member or place.

    ``say`` is the message function that words the refusal: :meth:`said` answers the
    member in their voice (cogs/errors.py, the flow, "Imagine this"); ``str()`` is the
    English, for logs, like the core's refusals.
    """

    def __init__(self, say: Callable[[Speech], str]) -> None:
        self._say = say
        super().__init__(say(ENGLISH))

    def said(self, s: Speech) -> str:
        """The refusal in the reader's language."""
        return self._say(s)


def is_personal(interaction: discord.Interaction) -> bool:
    """Whether this interaction came from a personal place (no server rules, no moderators)."""
    return place_of_interaction(interaction).personal


def open_to_personal_places(
    command: app_commands.Command[Any, ..., Any] | app_commands.Group | app_commands.ContextMenu,
) -> None:
    """Offer ``command`` (or a whole group) to user installs and in DMs, group DMs and
    servers without the bot."""
    command.guild_only = False
    command.allowed_installs = app_commands.AppInstallationType(guild=True, user=True)
    command.allowed_contexts = app_commands.AppCommandContext(
        guild=True, dm_channel=True, private_channel=True
    )


class PersonalGate:
    """Decides, before anything is charged or asked of the image API, whether a member
    may use a member command in a personal place."""

    def __init__(
        self,
        client: discord.Client,
        mode: PersonalUse,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self.mode = mode
        self._clock = clock
        self._answers: dict[int, tuple[bool, float]] = {}

    async def check(self, interaction: discord.Interaction) -> bool:
        """True, or :class:`NotAllowedHere` (answered privately by cogs/errors.py).

        Commands run it as an app-command check; every generating path (buttons and
        dialogs under old results too, which no command check covers) runs it again in
        ``GenerationFlow.start``: an interaction it let through is not asked twice.
        """
        if not place_of_interaction(interaction).personal:
            return True
        if interaction.extras.get(_PASSED) is True:
            return True
        # The acknowledgement budget starts now: the lookups below come out of it.
        deadline = acknowledgement_deadline(interaction)
        if not self.mode.enabled:  # Discord should not even offer it; a stale client might
            raise NotAllowedHere(messages.personal_use_off)
        if self.mode is PersonalUse.EVERYONE or await self.shares_a_server(
            interaction.user.id, deadline=deadline
        ):
            interaction.extras[_PASSED] = True
            return True
        log.info(
            "refused user %s outside servers: shares no server with the bot", interaction.user.id
        )
        raise NotAllowedHere(messages.personal_use_members_only)

    async def shares_a_server(self, user_id: int, *, deadline: float | None = None) -> bool:
        """Whether ``user_id`` shares a server with the bot; lookups end by ``deadline``
        (event-loop time) when given, and by :data:`LOOKUP_TIMEOUT` in any case."""
        now = self._clock()
        cached = self._answers.get(user_id)
        if cached is not None and cached[1] > now:
            return cached[0]
        guilds = list(self._client.guilds)
        answer: bool | None = any(guild.get_member(user_id) is not None for guild in guilds)
        if not answer:
            timeout = LOOKUP_TIMEOUT
            if deadline is not None:
                left = deadline - asyncio.get_running_loop().time()
                timeout = max(0.0, min(LOOKUP_TIMEOUT, left))
            answer = await self._ask(user_id, [g.id for g in guilds[:MAX_LOOKUPS]], timeout)
        if answer is not None:
            ttl = MEMBER_TTL if answer else STRANGER_TTL
            self._answers[user_id] = (answer, now + ttl)
            if len(self._answers) > 10_000:  # bounded: drop the oldest answers
                for key in list(self._answers)[:1000]:
                    del self._answers[key]
        return bool(answer)

    async def _ask(self, user_id: int, guild_ids: list[int], within: float) -> bool | None:
        """Ask Discord, server by server at once; None when it could not say in time."""

        async def member_of(guild_id: int) -> bool:
            try:
                await self._client.http.get_member(guild_id, user_id)
            except discord.NotFound:
                return False
            return True

        tasks = [asyncio.create_task(member_of(guild_id)) for guild_id in guild_ids]
        try:
            async with asyncio.timeout(within):
                for next_done in asyncio.as_completed(tasks):
                    try:
                        if await next_done:
                            return True
                    except discord.HTTPException as error:
                        log.warning("could not look up a server membership: %s", error)
        except TimeoutError:
            log.warning("server membership lookups for user %s timed out", user_id)
            return None
        finally:
            for task in tasks:
                task.cancel()
        return False
