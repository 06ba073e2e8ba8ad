"""Whatever breaks after the images arrived, the job is settled once and nothing stays taken.

The image API answers; then something the bot did not foresee goes wrong on the way
to "charged or refunded" (the once-only delivery claim, the final charge...). The
member reads what happened in place of the progress line, is charged only for what
they can see, and can ask again at once: no slot, task or in-memory job is left behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
import pytest_asyncio

from bot.store import SqliteStore, sqlite_path_from_url
from bot.store.base import GenerationRecord, GenerationStatus, MemberContext
from tests.e2e.harness import Harness
from tests.emulators.discord import InteractionRecord, Member, Message
from tests.emulators.siraya import Fault

pytestmark = pytest.mark.asyncio(loop_scope="module")

NOT_CHARGED = "You were not charged for it."


def has_image(message: Message) -> bool:
    return bool(message.attachments)


@pytest.fixture
def patch_store(world: Harness) -> Iterator[Callable[[str, Any], None]]:
    """Replace one store method for the test; the real one is back afterwards."""
    store = world.running_bot.store
    replaced: dict[str, Any] = {}

    def patch(name: str, replacement: Any) -> None:
        replaced.setdefault(name, getattr(store, name))
        setattr(store, name, replacement)

    yield patch
    for name, original in replaced.items():
        setattr(store, name, original)


@pytest_asyncio.fixture(loop_scope="module", autouse=True)
async def quick_retries(world: Harness) -> AsyncIterator[None]:
    """The retry pauses are for a real database's hiccups; here they need not wait."""
    service = world.running_bot.generations
    delays, service.retry_delays = service.retry_delays, (0.0, 0.0)
    yield
    service.retry_delays = delays


async def imagine(world: Harness, member: Member, prompt: str) -> InteractionRecord:
    it = await world.discord.run_slash_command(member, world.general, "imagine", prompt=prompt)
    await it.acknowledged(timeout=5)
    return it


async def assert_nothing_left_behind(world: Harness) -> None:
    bot = world.running_bot
    await asyncio.wait_for(bot.flow.wait_until_idle(), timeout=10)
    assert bot.generations.jobs_in_memory() == 0, "no job left in this process's map"
    assert bot.flow.tasks_in_memory() == 0, "no task left working on a job"
    assert bot.generations.slots_in_use() == 0, "every API slot handed back"


async def record_of(world: Harness, prompt: str) -> GenerationRecord:
    store = await SqliteStore.open(sqlite_path_from_url(world.settings.database_url))
    try:
        records = await store.export_usage(world.guild.id, days=1)
    finally:
        await store.close()
    return next(r for r in records if r.params.prompt == prompt)


async def test_an_unexpected_error_in_the_delivery_claim_is_refunded_and_told(
    world: Harness, patch_store: Callable[[str, Any], None]
) -> None:
    member = world.member("unlucky")
    real_claim = world.running_bot.store.begin_delivery

    async def broken_claim(*_: object, **__: object) -> bool:
        raise RuntimeError("the claim broke in a way nobody foresaw")

    patch_store("begin_delivery", broken_claim)
    job = await imagine(world, member, "a fragile vase")
    told = await job.wait_for_followup(lambda m: NOT_CHARGED in m.content, timeout=15)
    assert told.ephemeral, "told privately"
    assert "went wrong on my side" in told.content and not told.attachments
    assert "Generating" not in told.content
    assert (await record_of(world, "a fragile vase")).status is GenerationStatus.FAILED
    assert await world.used_today(member) == 0
    await assert_nothing_left_behind(world)

    # The member's slots are free: two new requests at once are both taken and delivered.
    patch_store("begin_delivery", real_claim)
    again = [await imagine(world, member, f"a sturdy vase {n}") for n in (1, 2)]
    for it in again:
        await it.wait_for_original(has_image, timeout=15)
    assert await world.used_today(member) == 2
    assert world.discord.interaction_failures == []


async def test_a_database_hiccup_in_the_delivery_claim_is_ridden_out(
    world: Harness, patch_store: Callable[[str, Any], None]
) -> None:
    member = world.member("steady")
    real_claim = world.running_bot.store.begin_delivery
    hiccups = [OSError("database is locked")]

    async def flaky_claim(*args: Any, **kwargs: Any) -> bool:
        if hiccups:
            raise hiccups.pop()
        return await real_claim(*args, **kwargs)

    patch_store("begin_delivery", flaky_claim)
    job = await imagine(world, member, "a steady hand")
    message = await job.wait_for_original(has_image, timeout=15)
    assert hiccups == [] and len(message.attachments) == 1
    assert await world.used_today(member) == 1
    await assert_nothing_left_behind(world)


async def test_a_charge_that_never_gets_written_is_found_by_the_sweep(
    world: Harness, patch_store: Callable[[str, Any], None]
) -> None:
    """The image is posted, then the database refuses the charge on every try: the row is
    still leased to this very process, so only the sweep can notice nobody works on it."""
    member = world.member("patient")
    real_complete = world.running_bot.store.complete
    down = True

    async def database_away(*args: Any, **kwargs: Any) -> None:
        if down:
            raise OSError("connection refused")
        await real_complete(*args, **kwargs)

    patch_store("complete", database_away)
    job = await imagine(world, member, "a ledger left open")
    await job.wait_for_original(has_image, timeout=15)
    bot = world.running_bot
    await asyncio.wait_for(bot.flow.wait_until_idle(), timeout=10)
    assert (await record_of(world, "a ledger left open")).status is GenerationStatus.RUNNING
    await assert_nothing_left_behind(world)

    down = False  # the database is back; two sweeps later the job is settled
    requests_before = len(world.api.requests)
    await bot.flow.resume_all(bot)
    await bot.flow.resume_all(bot)
    await asyncio.wait_for(bot.flow.wait_until_idle(), timeout=10)
    settled = await record_of(world, "a ledger left open")
    assert settled.status is GenerationStatus.SUCCEEDED and settled.delivered == 1
    assert await world.used_today(member) == 1
    assert len(world.api.requests) == requests_before, "not generated (nor billed) again"
    posted = [m for m in world.discord.messages(world.general) if "ledger left open" in m.text()]
    assert len(posted) == 1
    await assert_nothing_left_behind(world)


async def test_a_refund_that_never_gets_written_is_not_generated_again_by_the_sweep(
    world: Harness, patch_store: Callable[[str, Any], None]
) -> None:
    """The API refuses the prompt, the member reads "not charged", and the database takes
    no refund: the sweep later writes that refund, it never asks the API again."""
    member = world.member("refused")
    real_fail = world.running_bot.store.fail
    down = True

    async def database_away(*args: Any, **kwargs: Any) -> None:
        if down:
            raise OSError("connection refused")
        await real_fail(*args, **kwargs)

    patch_store("fail", database_away)
    world.api.fail_next(Fault.status(422, "content refused"))
    job = await imagine(world, member, "a refused thing")
    told = await job.wait_for_followup(lambda m: NOT_CHARGED in m.content, timeout=15)
    assert not told.attachments
    bot = world.running_bot
    await assert_nothing_left_behind(world)
    assert (await record_of(world, "a refused thing")).status is GenerationStatus.RUNNING

    down = False
    requests_before = len(world.api.requests)
    await bot.flow.resume_all(bot)
    await bot.flow.resume_all(bot)
    await asyncio.wait_for(bot.flow.wait_until_idle(), timeout=15)
    assert len(world.api.requests) == requests_before, "not generated (nor billed) again"
    settled = await record_of(world, "a refused thing")
    assert settled.status is GenerationStatus.FAILED and settled.delivered == 0
    assert await world.used_today(member) == 0, "as the member was told"
    assert not [m for m in world.discord.messages(world.general) if "refused thing" in m.text()]
    assert bot.generations.pending_writes() == 0
    await assert_nothing_left_behind(world)


async def test_a_reservation_nobody_works_on_is_refunded_not_generated(world: Harness) -> None:
    """A reservation this process wrote but never ran (the member was told "busy" and its
    background refund has not landed yet): the sweep refunds it; it never runs."""
    member = world.member("told-busy")
    bot = world.running_bot
    template = await record_of(world, "a steady hand")
    await bot.store.reserve(
        MemberContext(world.guild.id, world.general.id, member.id, ()),
        replace(template.params, prompt="a request told busy"),
        bot_default_limit=bot.generations.bot_default_limit,
        lease=bot.generations.leases.new_lease(),
    )
    requests_before = len(world.api.requests)
    await bot.flow.resume_all(bot)
    await bot.flow.resume_all(bot)
    await asyncio.wait_for(bot.flow.wait_until_idle(), timeout=15)
    assert len(world.api.requests) == requests_before, "never sent to the API"
    settled = await record_of(world, "a request told busy")
    assert settled.status is GenerationStatus.FAILED and settled.delivered == 0
    assert await world.used_today(member) == 0
    assert not [m for m in world.discord.messages(world.general) if "told busy" in m.text()]
    await assert_nothing_left_behind(world)


async def test_a_delivery_claim_whose_answer_is_lost_still_delivers_once(
    world: Harness, patch_store: Callable[[str, Any], None]
) -> None:
    """The claim commits, the connection drops before its answer: the retry finds the
    claim already this process's, and the images already paid for are posted, once."""
    member = world.member("reclaimed")
    real_claim = world.running_bot.store.begin_delivery
    lost = [OSError("connection reset after commit")]

    async def answer_lost(*args: Any, **kwargs: Any) -> bool:
        claimed = await real_claim(*args, **kwargs)
        if lost:
            raise lost.pop()
        return claimed

    patch_store("begin_delivery", answer_lost)
    requests_before = len(world.api.requests)
    job = await imagine(world, member, "a claim made twice")
    message = await job.wait_for_original(has_image, timeout=10)
    assert lost == [] and len(message.attachments) == 1
    await assert_nothing_left_behind(world)
    assert len(world.api.requests) == requests_before + 1, "the API asked once"
    settled = await record_of(world, "a claim made twice")
    assert settled.status is GenerationStatus.SUCCEEDED and settled.delivered == 1
    assert await world.used_today(member) == 1
