"""A slow database never fails an interaction: the member hears "busy", nothing is reserved.

Discord kills an interaction not answered within 3 s. Everything the bot reads or
writes before the acknowledgement has a budget well inside that; past it, the member
gets a private "busy, try again" and the usage log holds nothing for them, even when
the database frees up after they were told (the waiting reservation is dropped). The
slowness is real: a write lock on the SQLite file held by another connection (a backup,
a second process), or a store whose reads hang.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiosqlite
import pytest
import pytest_asyncio

from bot.store.common import StoreCommon
from tests.e2e.harness import Harness
from tests.e2e.test_result_buttons import (
    WAIT,
    charged_today,
    database_path,
    imagine,
    press,
    private_answer,
)
from tests.emulators.discord import InteractionRecord

pytestmark = pytest.mark.asyncio(loop_scope="module")

BUSY = "busy right now"


@pytest_asyncio.fixture(loop_scope="module", autouse=True)
async def judged(world: Harness) -> AsyncIterator[None]:
    """However slow the database, nobody saw "This interaction failed"."""
    yield
    assert world.discord.interaction_failures == []
    world.discord.assert_no_errors()


async def refunds_done(world: Harness) -> None:
    store = world.running_bot.store
    assert isinstance(store, StoreCommon)
    await store.refunds_settled()


async def statuses(world: Harness, user_id: int) -> list[str]:
    async with aiosqlite.connect(database_path(world)) as db:
        rows = await db.execute_fetchall(
            "SELECT status FROM generations WHERE user_id = ? ORDER BY id", (user_id,)
        )
    return [str(row[0]) for row in rows]


async def busy(it: InteractionRecord) -> None:
    """A private "busy" answer within Discord's 3 s (about 1.5 s: the budget, then the reply)."""
    reply = await private_answer(await it.acknowledged(timeout=WAIT))
    assert BUSY in reply.text(), reply.text()
    assert it.ack_latency is not None and it.ack_latency < 3.0, it.ack_latency


async def test_a_locked_database_makes_requests_busy_and_reserves_nothing(
    world: Harness,
) -> None:
    tess = world.member("tess")
    original = await imagine(world, tess, "a harbour at dusk")
    form = await (await press(world, tess, original, "Edit")).wait_for_modal(timeout=WAIT)
    requests = len(world.api.requests)

    async with aiosqlite.connect(database_path(world), isolation_level=None) as other:
        await other.execute("BEGIN IMMEDIATE")  # e.g. a backup or a second process writing
        try:
            asked = await asyncio.gather(
                world.discord.run_slash_command(tess, world.general, "imagine", prompt="a gull"),
                world.discord.press_button(tess, original, label="Re-roll"),
                world.discord.press_button(tess, original, label="Variations"),
                world.discord.submit_modal(tess, form, {"Prompt": "a harbour at dawn"}),
            )
            await asyncio.gather(*(busy(it) for it in asked))
        finally:
            # Released after the members were told, while the reservations still wait
            # for the lock: when they get it, their callers are gone.
            await other.execute("ROLLBACK")

    await refunds_done(world)
    assert await charged_today(world, tess) == 1, "only the original is charged"
    assert len(world.api.requests) == requests, "nothing was generated"
    assert await world.running_bot.store.in_flight(world.guild.id) == []
    assert await statuses(world, tess.id) == ["succeeded"], "nothing was written for her"

    again = await world.discord.run_slash_command(tess, world.general, "imagine", prompt="a gull")
    await again.acknowledged(timeout=WAIT)
    await again.wait_for_original(lambda m: len(m.attachments) == 1, timeout=WAIT)
    assert await charged_today(world, tess) == 2, "no job slot or image was left held"


def hanging(release: asyncio.Event) -> Callable[..., Awaitable[Any]]:
    """A store read that answers only once ``release`` is set (a database gone slow)."""

    async def read(*args: Any, **kwargs: Any) -> Any:
        await release.wait()
        raise AssertionError("a hanging read was awaited past the budget")

    return read


async def test_slow_reads_before_the_acknowledgement_answer_busy(
    world: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    uma = world.member("uma")
    original = await imagine(world, uma, "a lamp in a window")
    store = world.running_bot.store
    release = asyncio.Event()
    reads = ("get_generation", "usage", "in_flight", "guild_policy", "audit_log")
    for read in (*reads, "preferences", "styles", "history"):
        monkeypatch.setattr(store, read, hanging(release))
    discord_emu, mod = world.discord, world.moderator
    try:
        asked = await asyncio.gather(
            discord_emu.run_slash_command(uma, world.general, "usage"),
            discord_emu.run_slash_command(uma, world.general, "queue"),
            discord_emu.run_slash_command(uma, world.general, "imagine", prompt="a moth"),
            discord_emu.run_slash_command(mod, world.general, "quota view"),
            discord_emu.run_slash_command(mod, world.general, "quota view", member=uma),
            discord_emu.run_slash_command(mod, world.general, "settings show"),
            discord_emu.run_slash_command(uma, world.general, "history"),
            discord_emu.run_slash_command(uma, world.general, "preferences show"),
            *(
                discord_emu.press_button(uma, original, label=label)
                for label in ("Re-roll", "Variations", "Edit", "Info", "Delete")
            ),
        )
        await asyncio.gather(*(busy(it) for it in asked))
    finally:
        monkeypatch.undo()
        release.set()

    assert not original.deleted
    assert await charged_today(world, uma) == 1


async def test_a_moderators_change_on_a_locked_database_is_busy_and_not_made(
    world: Harness,
) -> None:
    vic = world.member("vic")
    mod = world.moderator

    async with aiosqlite.connect(database_path(world), isolation_level=None) as other:
        await other.execute("BEGIN IMMEDIATE")
        try:
            asked = await asyncio.gather(
                world.discord.run_slash_command(
                    mod, world.general, "quota set-user", member=vic, limit=3
                ),
                world.discord.run_slash_command(
                    mod, world.general, "settings allow-channel", channel=world.lounge
                ),
            )
            await asyncio.gather(*(busy(it) for it in asked))
        finally:
            await other.execute("ROLLBACK")

    # Told "busy", so nothing changed: the abandoned transactions were rolled back.
    policy = await world.running_bot.store.guild_policy(world.guild.id)
    assert vic.id not in policy.member_limits
    assert world.lounge.id not in policy.allowed_channel_ids
    done = await world.discord.run_slash_command(
        mod, world.general, "quota set-user", member=vic, limit=3
    )
    await private_answer(await done.acknowledged(timeout=WAIT))
    assert (await world.running_bot.store.guild_policy(world.guild.id)).member_limits[vic.id] == 3
    await world.running_bot.store.set_member_limit(world.guild.id, vic.id, None, actor_id=mod.id)
