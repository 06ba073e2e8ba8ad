"""Memory does not grow with the number of requests ever served.

The bot serves a first batch of requests of every kind (plain, re-rolled, posted in the
channel after the token expired, failed and refunded), then a batch several times as
large. Every in-memory structure that a request touches, the bot's own and the ones
discord.py keeps for it, is back at the size it had after the first batch: what a
request holds is released when it is settled. (docs/architecture.md, "Growth".)
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio

from bot import metrics
from bot.app import ImagineBot
from tests.e2e.harness import Harness, start_harness
from tests.emulators.discord import Message
from tests.emulators.siraya import Fault

pytestmark = pytest.mark.asyncio(loop_scope="module")

TOKEN_LIFETIME = 15 * 60


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    harness = await start_harness(tmp_path_factory.mktemp("growth"))
    try:
        yield harness
    finally:
        harness.api.release()
        await harness.close()


def has_image(message: Message) -> bool:
    return bool(message.attachments)


def posted(prompt: str) -> Callable[[Message], bool]:
    return lambda m: has_image(m) and prompt in m.text()


async def serve(world: Harness, rounds: int, batch: str) -> None:
    """``rounds`` times: a request and its re-roll, a late one, a failed one."""
    for round_ in range(rounds):
        n = f"{batch}-{round_}"
        member = world.member("regular")
        it = await world.discord.run_slash_command(
            member, world.general, "imagine", prompt=f"a lantern {n}"
        )
        result = await it.wait_for_original(has_image, timeout=15)
        again = await world.discord.press_button(member, result, label="Re-roll")
        await again.wait_for_original(has_image, timeout=15)

        world.api.hold()
        late = await world.discord.run_slash_command(
            member, world.general, "imagine", prompt=f"a slow lantern {n}"
        )
        await late.wait_for_original(lambda m: "Generating" in m.content, timeout=10)
        world.discord.clock.advance(TOKEN_LIFETIME + 1)
        world.api.release()
        await world.discord.wait_for_message(world.general, posted(f"a slow lantern {n}"))

        world.api.fail_next(Fault.status(422))
        refused = await world.discord.run_slash_command(
            member, world.general, "imagine", prompt=f"a refused lantern {n}"
        )
        await refused.wait_for_followup(lambda m: "not charged" in m.content.lower(), timeout=15)
    await asyncio.wait_for(world.running_bot.flow.wait_until_idle(), timeout=10)


def footprint(bot: ImagineBot) -> dict[str, int]:
    """The size of every structure a request passes through."""
    gc.collect()
    state = bot._connection
    views = state._view_store
    return {
        "jobs": bot.generations.jobs_in_memory(),
        "slots and tickets": bot.generations.slots_in_use(),
        "flow tasks": bot.flow.tasks_in_memory(),
        "event loop tasks": len(asyncio.all_tasks()),
        "metrics outcome series": len(metrics.REGISTRY._generations),
        "views by message": len(views._views),
        "synced views": len(views._synced_message_views),
        "dynamic item classes": len(views._dynamic_items),
        "open dialogs": len(views._modals),
        "rate-limit buckets": len(bot.http._buckets),
        "users": len(state._users),
        "dm channels": len(state._private_channels),
    }


async def test_serving_more_requests_holds_no_more_memory(world: Harness) -> None:
    bot = world.running_bot
    await serve(world, 1, "warm-up")
    warm = footprint(bot)
    await serve(world, 4, "busy")
    assert footprint(bot) == warm
    assert await world.used_today(world.member("nobody")) == 0
