"""The image API lets a member down: they read what happened, privately.

Whatever the failure, the member never sees "This interaction failed" nor a line
that spins forever, and the images they asked for are refunded. Nothing about a
refused prompt stays visible to the channel: the public placeholder is removed and the
reason goes to the member in an ephemeral follow-up (issue 12).
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.e2e.harness import Harness
from tests.emulators.discord import InteractionRecord, Member, Message
from tests.emulators.siraya import Fault

pytestmark = pytest.mark.asyncio(loop_scope="module")

REFUSED = "refused this prompt under its content policy"
OUT_OF_CREDIT = "out of credit"
MISCONFIGURED = "rejected its API key"
TOO_BUSY = "too busy right now"
TROUBLE = "having trouble at the moment"
TOO_SLOW = "took too long to answer"
UNUSABLE = "not a usable image"
NOT_CHARGED = "You were not charged for it."


async def failed_request(
    world: Harness, member: Member, *, prompt: str = "a red fox", **options: Any
) -> tuple[InteractionRecord, Message]:
    """``member`` runs /imagine; returns the interaction and the private follow-up telling
    them why there is no image."""
    it = await world.discord.run_slash_command(
        member, world.general, "imagine", prompt=prompt, **options
    )
    await it.acknowledged(timeout=3)
    message = await it.wait_for_followup(
        lambda m: NOT_CHARGED in m.content or bool(m.attachments), timeout=15
    )
    return it, message


async def assert_told_and_refunded(
    world: Harness, member: Member, message: Message, expected: str
) -> None:
    assert expected in message.text()  # as the member reads it
    assert message.ephemeral, "a failure after acknowledging is the member's alone"
    assert message.visible_to == member.id
    assert not message.attachments and not message.embeds
    public = [
        m
        for m in world.discord.messages(world.general)
        if not m.ephemeral
        and (m.interaction_metadata or {}).get("user", {}).get("id") == str(member.id)
    ]
    assert public == [], "the public placeholder is removed: nothing of it stays visible"
    assert "Generating" not in message.content
    assert await world.used_today(member) == 0, "the member got their images back"
    assert world.api.pending_faults == 0
    assert world.discord.interaction_failures == []
    world.discord.assert_no_errors()


@pytest.mark.parametrize(
    ("faults", "expected"),
    [
        pytest.param([Fault.status(422)], REFUSED, id="422-content-policy"),
        pytest.param([Fault.status(403)], REFUSED, id="403-moderation"),
        pytest.param([Fault.status(402)], OUT_OF_CREDIT, id="402-out-of-credit"),
        pytest.param([Fault.rate_limited()] * 2, TOO_BUSY, id="429-gave-up"),
        pytest.param([Fault.status(503)] * 2, TROUBLE, id="503-gave-up"),
        pytest.param([Fault.status(500), Fault.status(502)], TROUBLE, id="5xx-gave-up"),
        pytest.param([Fault.drop_connection()] * 2, TROUBLE, id="connection-dropped"),
        pytest.param([Fault.status(408)] * 2, TOO_SLOW, id="408-gave-up"),
        pytest.param([Fault.not_an_image()], UNUSABLE, id="not-an-image"),
        pytest.param([Fault.image_404()], UNUSABLE, id="image-url-gone"),
        pytest.param([Fault.malformed_json()], UNUSABLE, id="malformed-json"),
        pytest.param([Fault.empty_data()], UNUSABLE, id="no-images"),
    ],
)
async def test_an_api_failure_is_explained_and_refunded(
    world: Harness, faults: list[Fault], expected: str
) -> None:
    member = world.member("unlucky")
    world.api.fail_next(*faults * 2)  # two images, two requests: both fail
    _, message = await failed_request(world, member, count=2, size="square")
    await assert_told_and_refunded(world, member, message, expected)


async def test_a_prompt_the_provider_blocks_is_refused_politely(world: Harness) -> None:
    member = world.member("edgy")
    _, message = await failed_request(world, member, prompt="something forbidden")
    await assert_told_and_refunded(world, member, message, REFUSED)
    assert "Try rewording it" in message.content


async def test_settings_the_provider_rejects_are_quoted(world: Harness) -> None:
    member = world.member("odd")
    world.api.fail_next(Fault.status(400, "guidance_scale is not supported with acceleration"))
    _, message = await failed_request(world, member)
    await assert_told_and_refunded(
        world, member, message, "guidance_scale is not supported with acceleration"
    )


async def test_a_rejected_api_key_alerts_the_owner_in_the_log(
    world: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    member = world.member("first")
    world.api.fail_next(Fault.status(401))
    with caplog.at_level(logging.WARNING):
        _, message = await failed_request(world, member)
    await assert_told_and_refunded(world, member, message, MISCONFIGURED)
    assert "owner has been alerted" in message.content
    critical = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert len(critical) == 1
    assert "SIRAYA_API_KEY" in critical[0].getMessage()
    assert world.api.api_key not in caplog.text


async def test_an_account_out_of_credit_pauses_generation(
    world: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    member = world.member("broke")
    world.api.credit = 0
    try:
        with caplog.at_level(logging.WARNING):
            _, message = await failed_request(world, member)
    finally:
        world.api.credit = None
    await assert_told_and_refunded(world, member, message, OUT_OF_CREDIT)
    assert any("out of credit" in r.getMessage() for r in caplog.records if r.levelno >= 40)


async def test_the_member_saw_progress_before_the_failure(world: Harness) -> None:
    member = world.member("watcher")
    world.api.fail_next(Fault.status(503), Fault.status(503))
    world.api.hold()
    try:
        it = await world.discord.run_slash_command(
            member, world.general, "imagine", prompt="a red fox"
        )
        await it.wait_for_original(lambda m: "Generating" in m.content, timeout=10)
    finally:
        world.api.release()
    message = await it.wait_for_followup(lambda m: NOT_CHARGED in m.content, timeout=15)
    await assert_told_and_refunded(world, member, message, TROUBLE)
    assert it.original is not None and it.original.deleted, "the progress line went away"
    seen = [version.content for version in it.original.history] + [it.original.content]
    assert any("Generating" in text for text in seen), seen


# -- images too large for the channel -------------------------------------------------------


async def test_an_image_over_the_upload_limit_is_compressed_to_fit(world: Harness) -> None:
    member = world.member("hoarder")
    small_limit = 60 * 1024
    it = await world.discord.run_slash_command(
        member,
        world.general,
        "imagine",
        prompt="a detailed city",
        size="square_hd",
        attachment_size_limit=small_limit,
    )
    message = await it.wait_for_original(lambda m: bool(m.attachments), timeout=15)
    original = await world.api.render(
        "a detailed city", world.api.requests[-1].json["seed"], 0, 1024, 1024
    )
    assert len(original) > small_limit, "the test needs an image that does not fit as is"
    image = message.attachments[0]
    assert image.size <= small_limit
    assert image.content_type in ("image/webp", "image/jpeg")
    assert message.embeds[0]["image"]["url"] == image.url
    assert await world.used_today(member) == 1
    world.discord.assert_no_errors()


async def test_a_huge_file_from_the_api_is_compressed_to_fit(world: Harness) -> None:
    member = world.member("bulky")
    world.api.fail_next(Fault.oversize_image(11 * 1024 * 1024))
    it = await world.discord.run_slash_command(
        member, world.general, "imagine", prompt="an enormous file", size="square"
    )
    message = await it.wait_for_original(lambda m: bool(m.attachments), timeout=15)
    image = message.attachments[0]
    assert image.size <= 10 * 1024 * 1024
    assert (image.width, image.height) == (512, 512)
    assert await world.used_today(member) == 1
    world.discord.assert_no_errors()


async def test_four_images_that_each_fit_still_fit_in_one_upload(world: Harness) -> None:
    """Discord caps a whole request at 25 MiB even where each file may be bigger."""
    member = world.member("booster")
    world.api.fail_next(*[Fault.oversize_image(25 * 1024 * 1024 // 4 - 64)] * 4)  # each image
    it = await world.discord.run_slash_command(
        member,
        world.general,
        "imagine",
        prompt="four big ones",
        size="square",
        count=4,
        attachment_size_limit=50 * 1024 * 1024,
    )
    message = await it.wait_for_original(
        lambda m: bool(m.attachments) or NOT_CHARGED in m.content, timeout=20
    )
    assert len(message.attachments) == 4, message.content
    assert sum(a.size for a in message.attachments) < 25 * 1024 * 1024
    assert await world.used_today(member) == 4
    world.discord.assert_no_errors()


async def test_an_image_that_cannot_fit_is_explained_and_refunded(world: Harness) -> None:
    member = world.member("unlucky")
    _, message = await failed_request(
        world, member, size="square_hd", seed=5, attachment_size_limit=100
    )
    await assert_told_and_refunded(world, member, message, "larger than this channel's upload")
    assert "(100 bytes per image)" in message.content, "the member learns the limit"
    assert "Try a smaller size" in message.content


async def test_a_broken_image_that_must_be_shrunk_is_explained_and_refunded(
    world: Harness,
) -> None:
    """The API sends a PNG cut short: its header looks fine, its pixels cannot be read."""
    member = world.member("cutoff")
    world.api.fail_next(Fault.oversize_image(40 * 1024))  # smaller than the image: truncated
    _, message = await failed_request(
        world, member, size="square_hd", seed=3, attachment_size_limit=20 * 1024
    )
    await assert_told_and_refunded(world, member, message, UNUSABLE)


async def test_a_broken_image_is_never_posted(world: Harness) -> None:
    member = world.member("cutoff")
    world.api.fail_next(Fault.oversize_image(40 * 1024))  # smaller than the image: truncated
    _, message = await failed_request(world, member, size="square_hd", seed=3)
    await assert_told_and_refunded(world, member, message, UNUSABLE)
