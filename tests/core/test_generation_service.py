"""A generation's life in the core: refusals cost nothing, results charge what was delivered."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import replace

import pytest

from bot.jobs.scheduler import FairScheduler
from bot.jobs.service import (
    Busy,
    CancelOutcome,
    ChannelNotAllowed,
    GenerationService,
    PromptBlocked,
    Requester,
)
from bot.siraya import (
    MAX_SEED,
    ContentRefused,
    GeneratedImage,
    GenerationRequest,
    GenerationResult,
    InvalidRequest,
    UpstreamError,
)
from bot.store import SqliteStore
from tests.core.conftest import ALICE, CHANNEL, GUILD, MOD

NSFW_CHANNEL = 2999
PNG = GeneratedImage(data=b"\x89PNG", format="png", width=1024, height=768)


class FakeGenerator:
    """Stands in for the API client: records requests, returns or raises what it is told."""

    def __init__(self) -> None:
        self.requests: list[GenerationRequest] = []
        self.failing_seeds: set[int] = set()
        self.error: Exception | None = None
        self.gate: asyncio.Event | None = None
        self.download_gate: asyncio.Event | None = None
        self._arrived = asyncio.Condition()

    async def wait_for_requests(self, count: int) -> None:
        async with self._arrived:
            await self._arrived.wait_for(lambda: len(self.requests) >= count)

    async def generate(
        self, request: GenerationRequest, *, on_generated: Callable[[], None] | None = None
    ) -> GenerationResult:
        self.requests.append(request)
        async with self._arrived:
            self._arrived.notify_all()
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        if request.seed in self.failing_seeds:
            raise UpstreamError("no provider available", status=503)
        if on_generated is not None:
            on_generated()
        if self.download_gate is not None:
            await self.download_gate.wait()
        return GenerationResult(
            images=[PNG] * request.count, seed=request.seed, attempts=1, api_seconds=0.1
        )


def requester(channel: int = CHANNEL, *, nsfw: bool = False, user: int = ALICE) -> Requester:
    return Requester(
        guild_id=GUILD, channel_id=channel, user_id=user, role_ids=(), channel_is_nsfw=nsfw
    )


@pytest.fixture
def generator() -> FakeGenerator:
    return FakeGenerator()


@pytest.fixture
def service(store: SqliteStore, generator: FakeGenerator) -> GenerationService:
    return GenerationService(
        generator,
        store,
        FairScheduler(2),
        bot_default_limit=5,
        nsfw_safety_default=False,
        rng=random.Random(7),
    )


async def used(store: SqliteStore, user: int = ALICE) -> int:
    summary = await store.usage(requester(user=user).member, bot_default_limit=5)
    return summary.used


async def test_invalid_request_is_refused_before_anything_is_charged(
    service: GenerationService, store: SqliteStore
) -> None:
    with pytest.raises(InvalidRequest, match="multiple of 16"):
        await service.submit(requester(), GenerationRequest(prompt="fox", width=1000, height=512))
    assert await used(store) == 0


async def test_blocked_word_and_channel_rules_refuse_without_charge(
    service: GenerationService, store: SqliteStore
) -> None:
    await store.block_word(GUILD, "gore", actor_id=MOD)
    with pytest.raises(PromptBlocked) as blocked:
        await service.submit(requester(), GenerationRequest(prompt="so much GORE here"))
    assert blocked.value.matched == "gore"
    await store.allow_channel(GUILD, 4242, actor_id=MOD)
    with pytest.raises(ChannelNotAllowed):
        await service.submit(requester(), GenerationRequest(prompt="a fox"))
    assert await used(store) == 0


async def test_a_jobs_public_language_is_the_moderators_choice_else_the_servers(
    service: GenerationService, store: SqliteStore
) -> None:
    french_server = replace(requester(), locale="fr")
    job = await service.submit(french_server, GenerationRequest(prompt="a fox"))
    record = await store.get_generation(job.generation_id)
    assert job.locale == "fr" and record is not None and record.locale == "fr"

    await store.set_language(GUILD, "ja", actor_id=MOD)
    job = await service.submit(french_server, GenerationRequest(prompt="a cat"))
    record = await store.get_generation(job.generation_id)
    assert job.locale == "ja" and record is not None and record.locale == "ja"
    assert service.resume(record).locale == "ja", "a resumed job speaks as it began"


async def test_a_job_keeps_the_members_language_beside_the_servers_after_a_restart_too(
    service: GenerationService, store: SqliteStore
) -> None:
    asked = replace(requester(), locale="fr", member_locale="pt-BR")
    job = await service.submit(asked, GenerationRequest(prompt="a heron"))
    assert (job.locale, job.member_locale) == ("fr", "pt-BR")
    record = await store.get_generation(job.generation_id)
    assert record is not None and record.member_locale == "pt-BR"
    assert service.resume(record).member_locale == "pt-BR", "what only the member reads"


async def test_a_refusal_by_the_rules_carries_the_servers_public_language(
    service: GenerationService, store: SqliteStore
) -> None:
    await store.block_word(GUILD, "gore", actor_id=MOD)
    await store.set_language(GUILD, "pt-BR", actor_id=MOD)
    with pytest.raises(PromptBlocked) as blocked:
        await service.submit(replace(requester(), locale="de"), GenerationRequest(prompt="gore"))
    assert blocked.value.public_locale == "pt-BR", "the moderation log reports it so"
    await store.set_language(GUILD, None, actor_id=MOD)
    with pytest.raises(PromptBlocked) as blocked:
        await service.submit(replace(requester(), locale="de"), GenerationRequest(prompt="gore"))
    assert blocked.value.public_locale == "de"


async def test_safety_checker_forced_on_outside_nsfw_channels(
    service: GenerationService, store: SqliteStore
) -> None:
    request = GenerationRequest(prompt="a fox", enable_safety_checker=False)
    sfw = await service.submit(requester(), request)
    assert sfw.request.enable_safety_checker is True
    nsfw = await service.submit(requester(NSFW_CHANNEL, nsfw=True), request)
    assert nsfw.request.enable_safety_checker is False  # env default off
    await store.set_nsfw_safety(GUILD, True, actor_id=MOD)
    nsfw_on = await service.submit(requester(NSFW_CHANNEL, nsfw=True), request)
    assert nsfw_on.request.enable_safety_checker is True


async def test_a_seed_is_always_chosen_so_the_result_can_be_reproduced(
    service: GenerationService,
) -> None:
    job = await service.submit(requester(), GenerationRequest(prompt="a fox"))
    assert job.request.seed is not None
    kept = await service.submit(requester(), GenerationRequest(prompt="a fox", seed=42))
    assert kept.request.seed == 42


async def test_each_image_is_its_own_request_with_its_own_seed(
    service: GenerationService, generator: FakeGenerator
) -> None:
    job = await service.submit(requester(), GenerationRequest(prompt="a fox", seed=42, count=4))
    result = await service.run(job)
    assert [(r.seed, r.count) for r in generator.requests] == [(42, 1), (43, 1), (44, 1), (45, 1)]
    assert [(p.number, p.seed) for p in result.pictures] == [(1, 42), (2, 43), (3, 44), (4, 45)]
    assert service.slots_in_use() == 0


async def test_seeds_wrap_past_the_largest_seed_to_ones_a_member_can_type() -> None:
    request = GenerationRequest(prompt="a fox", seed=MAX_SEED - 1, count=3)
    assert [r.seed for r in request.image_requests()] == [MAX_SEED - 1, MAX_SEED, 0]


async def test_images_share_the_slots_with_other_members_as_requests_of_their_own(
    store: SqliteStore, generator: FakeGenerator
) -> None:
    """MAX_CONCURRENT_JOBS counts API requests: a four-image job holds up to four slots,
    and a member arriving later gets a turn between its images."""
    service = GenerationService(
        generator, store, FairScheduler(2), bot_default_limit=50, nsfw_safety_default=True
    )
    generator.gate = asyncio.Event()
    burst = await service.submit(requester(), GenerationRequest(prompt="burst", count=4))
    other = await service.submit(requester(user=ALICE + 1), GenerationRequest(prompt="one"))
    running = asyncio.create_task(service.run(burst))
    following = asyncio.create_task(service.run(other))
    await asyncio.wait_for(generator.wait_for_requests(2), timeout=5)
    assert [r.prompt for r in generator.requests] == ["burst", "burst"], "two slots, two images"
    assert service.slots_in_use() == 5, "2 images at the provider, 2 more and 1 job in line"
    assert service.position(other) == 2, "after the burst's third image, before its fourth"
    generator.gate.set()
    await asyncio.gather(running, following)
    assert sorted(r.prompt for r in generator.requests) == ["burst"] * 4 + ["one"]
    assert service.slots_in_use() == 0


async def test_delivered_images_are_charged_and_the_rest_refunded(
    service: GenerationService, store: SqliteStore, generator: FakeGenerator
) -> None:
    generator.failing_seeds = {43, 45}
    job = await service.submit(requester(), GenerationRequest(prompt="a fox", seed=42, count=4))
    assert await used(store) == 4  # reserved while in flight
    result = await service.run(job)
    assert [p.number for p in result.pictures] == [1, 3]
    assert [(m.number, m.seed) for m in result.missing] == [(2, 43), (4, 45)]
    await service.delivered(job, len(result.images), message_id=777)
    await service.delivered(job, len(result.images))  # settling twice changes nothing
    assert await used(store) == 2
    record = await store.get_generation(job.generation_id)
    assert record is not None and record.delivered == 2 and record.message_id == 777


async def test_when_every_image_fails_the_first_error_is_raised_and_all_refunded(
    service: GenerationService, store: SqliteStore, generator: FakeGenerator
) -> None:
    generator.failing_seeds = {7, 8}
    job = await service.submit(requester(), GenerationRequest(prompt="a fox", seed=7, count=2))
    with pytest.raises(UpstreamError):
        await service.run(job)
    assert await used(store) == 0
    assert service.slots_in_use() == 0


async def test_api_failure_refunds_everything(
    service: GenerationService, store: SqliteStore, generator: FakeGenerator
) -> None:
    generator.error = ContentRefused("refused", status=422, api_message="Invalid prompt detected.")
    job = await service.submit(requester(), GenerationRequest(prompt="a fox", count=3))
    with pytest.raises(ContentRefused):
        await service.run(job)
    assert await used(store) == 0
    record = await store.get_generation(job.generation_id)
    assert record is not None and record.error_class == "refused"


async def test_abandoned_job_leaves_the_line_and_is_refunded(
    service: GenerationService, store: SqliteStore, generator: FakeGenerator
) -> None:
    job = await service.submit(requester(), GenerationRequest(prompt="a fox", count=2))
    await service.abandon(job)
    assert await used(store) == 0
    assert generator.requests == []


async def test_queued_jobs_report_their_position(
    store: SqliteStore, generator: FakeGenerator
) -> None:
    service = GenerationService(
        generator, store, FairScheduler(1), bot_default_limit=50, nsfw_safety_default=True
    )
    generator.gate = asyncio.Event()
    first = await service.submit(requester(), GenerationRequest(prompt="one"))
    second = await service.submit(requester(user=ALICE + 1), GenerationRequest(prompt="two"))
    running = asyncio.create_task(service.run(first))
    await asyncio.sleep(0)
    assert service.position(first) == 0
    assert service.position(second) == 1
    generator.gate.set()
    await running
    await service.run(second)
    assert [r.prompt for r in generator.requests] == ["one", "two"]


async def test_shutdown_waits_for_a_result_being_recorded_then_keeps_waiting_jobs(
    service: GenerationService, store: SqliteStore, generator: FakeGenerator
) -> None:
    """Draining must not cut off the database write that charges a delivered image."""
    recording = asyncio.Event()
    release = asyncio.Event()
    real_complete = store.complete

    order: list[str] = []

    async def slow_complete(*args: object, **kwargs: object) -> None:
        recording.set()
        await release.wait()
        await real_complete(*args, **kwargs)  # type: ignore[arg-type]
        order.append("recorded")

    async def drain() -> int:
        left = await service.drain(grace=30)
        order.append("drained")
        return left

    store.complete = slow_complete  # type: ignore[method-assign]
    done = await service.submit(requester(), GenerationRequest(prompt="done"))
    result = await service.run(done)
    waiting_user = ALICE + 7
    queued = await service.submit(requester(user=waiting_user), GenerationRequest(prompt="later"))
    delivering = asyncio.create_task(service.delivered(done, len(result.images)))
    await recording.wait()
    draining = asyncio.create_task(drain())
    for _ in range(50):  # give a drain that does not wait every chance to finish early
        await asyncio.sleep(0)
    release.set()
    await delivering
    assert await draining == 1  # the queued job stays for the next start
    assert order == ["recorded", "drained"]
    assert service.job(queued.generation_id) is queued
    assert await used(store) == 1


async def test_a_slot_is_freed_once_the_provider_answered_not_after_the_download(
    store: SqliteStore, generator: FakeGenerator
) -> None:
    """MAX_CONCURRENT_JOBS counts generations at the provider, not image downloads."""
    service = GenerationService(
        generator, store, FairScheduler(1), bot_default_limit=50, nsfw_safety_default=True
    )
    generator.download_gate = asyncio.Event()
    first = await service.submit(requester(), GenerationRequest(prompt="one"))
    second = await service.submit(requester(user=ALICE + 1), GenerationRequest(prompt="two"))
    downloading = asyncio.create_task(service.run(first))
    following = asyncio.create_task(service.run(second))
    # The second generation starts while the first is still downloading.
    await asyncio.wait_for(generator.wait_for_requests(2), timeout=5)
    assert not downloading.done()
    generator.download_gate.set()
    await asyncio.gather(downloading, following)


async def test_a_database_hiccup_while_recording_the_outcome_is_ridden_out(
    store: SqliteStore, generator: FakeGenerator
) -> None:
    service = GenerationService(
        generator,
        store,
        FairScheduler(1),
        bot_default_limit=50,
        nsfw_safety_default=True,
        settle_retry_delays=(0, 0),
    )
    real_complete = store.complete
    failures = [OSError("connection reset"), OSError("connection reset")]

    async def flaky_complete(*args: object, **kwargs: object) -> None:
        if failures:
            raise failures.pop()
        await real_complete(*args, **kwargs)  # type: ignore[arg-type]

    store.complete = flaky_complete  # type: ignore[method-assign]
    job = await service.submit(requester(), GenerationRequest(prompt="steady", count=2))
    result = await service.run(job)
    await service.delivered(job, len(result.images))
    record = await store.get_generation(job.generation_id)
    assert record is not None and record.delivered == 2 and failures == []
    assert await used(store) == 2


async def test_a_cancel_pressed_in_another_server_knows_no_such_job(
    service: GenerationService, store: SqliteStore
) -> None:
    first = await service.submit(requester(), GenerationRequest(prompt="a"))
    waiting = await service.submit(requester(), GenerationRequest(prompt="b"))
    third = await service.submit(requester(), GenerationRequest(prompt="c"))
    assert service.position(third) > 0 and first and waiting

    elsewhere = service.cancel(third.generation_id, actor_id=MOD, is_moderator=True, guild_id=1)

    assert elsewhere is CancelOutcome.UNKNOWN, "a moderator elsewhere is nobody here"
    assert not third.cancel_requested.is_set()
    here = service.cancel(third.generation_id, actor_id=ALICE, is_moderator=False, guild_id=GUILD)
    assert here is CancelOutcome.CANCELLED


async def test_a_deadline_already_past_refuses_as_busy_and_reserves_nothing(
    service: GenerationService, store: SqliteStore
) -> None:
    past = asyncio.get_running_loop().time() - 1

    with pytest.raises(Busy):
        await service.submit(requester(), GenerationRequest(prompt="late"), deadline=past)

    await store.refunds_settled()
    assert await used(store) == 0
    assert await store.in_flight() == []


async def test_expected_finish_counts_every_round_a_job_of_several_images_needs(
    store: SqliteStore, generator: FakeGenerator
) -> None:
    one_slot = GenerationService(
        generator, store, FairScheduler(1), bot_default_limit=50, nsfw_safety_default=True
    )
    one_slot.typical_run = 60.0
    assert one_slot.expected_finish(1) == 60.0
    assert one_slot.expected_finish(4) == 240.0, "four images on one slot: four rounds"
    two_slots = GenerationService(
        generator, store, FairScheduler(2), bot_default_limit=50, nsfw_safety_default=True
    )
    two_slots.typical_run = 60.0
    assert two_slots.expected_finish(3) == 120.0
