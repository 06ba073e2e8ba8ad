"""The time an interaction may spend before it is acknowledged, whatever it reads first.

Discord gives an interaction 3 s to be answered. A button press may read a generation,
then check rules and reserve quota; ``/usage`` reads a summary; each of those trips to
the database comes out of the same 3 s. So the budget is per interaction, not per
call: it starts when the bot first asks for time on that interaction (within a few
milliseconds of its arrival) and every read before the acknowledgement draws on what is
left. Past it the member is told privately that the bot is busy
(:class:`~bot.jobs.service.Busy`), which is kinder than "This interaction failed".

What may go through here: reads (cancelled half-way, they change nothing), the
reservation (the store drops or refunds an abandoned one, ``Store.reserve``) and the
moderators' settings writes (each one transaction, rolled back when abandoned). Nothing
else that writes: an abandoned write must never be half-done.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

import discord

from bot.jobs.service import ACKNOWLEDGE_BUDGET, Busy

_T = TypeVar("_T")
_DEADLINE = "imagine.acknowledge_by"
"""Key in ``Interaction.extras`` (discord.py's place for a bot's own per-interaction data)."""


def acknowledgement_deadline(interaction: discord.Interaction) -> float:
    """When (event-loop time) the work before this interaction's acknowledgement must end."""
    deadline = interaction.extras.get(_DEADLINE)
    if not isinstance(deadline, float):
        deadline = asyncio.get_running_loop().time() + ACKNOWLEDGE_BUDGET
        interaction.extras[_DEADLINE] = deadline
    return deadline


async def in_time(interaction: discord.Interaction, work: Awaitable[_T]) -> _T:
    """``await work`` within what is left of the interaction's budget; :class:`Busy` past it."""
    try:
        async with asyncio.timeout_at(acknowledgement_deadline(interaction)):
            return await work
    except TimeoutError:
        raise Busy() from None
