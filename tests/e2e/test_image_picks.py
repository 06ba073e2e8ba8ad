"""Every image of a result is its own: its own seed, its own U button.

A result of several images is several API requests, image k asked for alone with seed
``s + k - 1``, so ``/imagine seed:<that seed>`` makes image k again, byte for byte; the
images that never come are refunded and named. U<k> posts image k alone (read back from
the result's attachment: no provider call, no charge), with buttons that act on that
image, and works on a result posted before the bot restarted.
"""

from __future__ import annotations

import re
import sys
from collections.abc import AsyncIterator
from types import ModuleType
from typing import Any

import pytest
import pytest_asyncio

from tests.e2e.harness import Harness
from tests.emulators.discord import InteractionRecord, Member, Message
from tests.emulators.discord.interactions import CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, MODAL
from tests.emulators.siraya import Fault

pytestmark = pytest.mark.asyncio(loop_scope="module")

WAIT = 15.0
MAX_CUSTOM_ID = 100
FOOTER_ID = re.compile(r"generation #(\d+)")


async def imagine(world: Harness, member: Member, prompt: str, **options: Any) -> Message:
    it = await world.discord.run_slash_command(
        member, world.general, "imagine", prompt=prompt, **options
    )
    await it.acknowledged(timeout=WAIT)
    return await it.wait_for_original(
        lambda m: bool(m.attachments) or m.content.startswith("⚠️"), timeout=WAIT
    )


async def press(world: Harness, member: Member, message: Message, label: str) -> InteractionRecord:
    it = await world.discord.press_button(member, message, label=label)
    await it.acknowledged(timeout=WAIT)
    return it


async def picked(world: Harness, member: Member, result: Message, number: int) -> Message:
    """``member`` presses U<number> and image ``number`` appears alone, publicly."""
    it = await press(world, member, result, f"U{number}")
    assert it.response_type == DEFERRED_CHANNEL_MESSAGE, it
    message = await it.wait_for_original(lambda m: len(m.attachments) == 1, timeout=WAIT)
    assert not message.ephemeral
    return message


async def private_answer(it: InteractionRecord) -> Message:
    assert it.response_type == CHANNEL_MESSAGE, it
    reply = await it.wait_for_original(timeout=WAIT)
    assert reply.ephemeral, reply
    return reply


def fields(message: Message) -> dict[str, str]:
    return {f["name"]: f["value"] for f in message.embeds[0]["fields"]}


def image(result: Message, number: int) -> bytes:
    """Image ``number`` of a result, by its file name (image k is U<k>)."""
    name = re.compile(rf"imagine-\d+-{number}\.\w+")
    named = [a for a in result.attachments if name.fullmatch(a.filename)]
    assert len(named) == 1, [a.filename for a in result.attachments]
    return named[0].data


def labels(message: Message) -> list[str]:
    return [str(b.get("label")) for b in message.buttons]


async def charged(world: Harness, member: Member) -> int:
    """What ``member`` is charged once every job has settled."""
    await world.running_bot.flow.wait_until_idle()
    return await world.used_today(member)


@pytest_asyncio.fixture(loop_scope="module", autouse=True)
async def judged(world: Harness) -> AsyncIterator[None]:
    """Whatever a story did, nobody saw "This interaction failed" and no request was invalid."""
    yield
    assert world.discord.interaction_failures == []
    world.discord.assert_no_errors()


# -- every image reproducible on its own ---------------------------------------------------------


async def test_image_k_of_four_is_made_again_alone_by_its_own_seed(world: Harness) -> None:
    ana = world.member("ana")
    settings = {"size": "square", "steps": 12, "guidance": 6.0}
    four = await imagine(world, ana, "a lantern in fog", count=4, seed=5000, **settings)
    seeds = "U1\u00a0`5000` · U2\u00a0`5001` · U3\u00a0`5002` · U4\u00a0`5003`"
    assert fields(four)["Seeds"] == seeds, "each image's seed, named as its U button"

    third = await imagine(world, ana, "a lantern in fog", seed=5002, **settings)

    assert fields(third)["Seed"] == "`5002`"
    assert third.attachments[0].data == image(four, 3), "byte-identical: image 3 again"
    assert len({image(four, k) for k in range(1, 5)}) == 4, "four different pictures"
    settings["steps"] = 13
    other_steps = await imagine(world, ana, "a lantern in fog", seed=5002, **settings)
    assert other_steps.attachments[0].data != image(four, 3), "settings matter, as upstream"


async def test_when_one_image_fails_only_the_others_are_charged_and_it_is_named(
    world: Harness,
) -> None:
    ben = world.member("ben")
    world.api.fail_seed(7002, Fault.not_an_image())

    result = await imagine(world, ben, "three of four boats", count=4, seed=7000, size="square")

    assert len(result.attachments) == 3
    assert [a.filename.split(".")[0][-1] for a in result.attachments] == ["1", "2", "4"]
    assert "3 of 4 images arrived" in result.content
    assert "image 3 (seed `7002`)" in result.content
    assert "charged for 3 images" in result.content
    assert fields(result)["Seeds"] == "U1\u00a0`7000` · U2\u00a0`7001` · U4\u00a0`7003`"
    assert [label for label in labels(result) if label.startswith("U")] == ["U1", "U2", "U4"]
    assert await charged(world, ben) == 3, "3 arrived, 3 charged; the 4th refunded"
    assert world.api.pending_faults == 0
    assert world.running_bot.generations.slots_in_use() == 0


# -- U1…U4 -------------------------------------------------------------------------------------


async def test_u_buttons_sit_in_their_own_row_under_several_images_only(world: Harness) -> None:
    cy = world.member("cy")
    one = await imagine(world, cy, "a single pear", size="square")
    four = await imagine(world, cy, "four pears", count=4, size="square")

    assert not any(label.startswith("U") for label in labels(one))
    rows = [[b.get("label") for b in row["components"]] for row in four.components]
    assert rows == [["Re-roll", "Variations", "Edit", "Info", "Delete"], ["U1", "U2", "U3", "U4"]]
    longest = max(len(b["custom_id"]) for b in four.buttons)
    gen_id = FOOTER_ID.search(four.embeds[0]["footer"]["text"])
    assert gen_id is not None
    assert longest - len(gen_id[1]) + 19 <= MAX_CUSTOM_ID, "fits with the largest id"


async def test_a_pick_posts_that_image_alone_full_size_at_no_cost(world: Harness) -> None:
    dee = world.member("dee")
    four = await imagine(world, dee, "four teacups", count=4, seed=9100, size="square")
    requests = len(world.api.requests)

    alone = await picked(world, dee, four, 2)

    assert alone.attachments[0].data == image(four, 2), "the very image, full size"
    assert alone.embeds[0]["image"]["url"] == alone.attachments[0].url
    assert fields(alone)["Seed"] == "`9101`"
    assert alone.embeds[0]["description"] == "four teacups"
    assert labels(alone) == ["Re-roll", "Edit", "Info", "Delete"]
    assert len(world.api.requests) == requests, "no provider call"
    assert await charged(world, dee) == 4, "a pick costs nothing"
    assert not four.deleted


async def test_only_the_owner_or_a_moderator_picks(world: Harness) -> None:
    owner, stranger = world.member("owner"), world.member("stranger")
    four = await imagine(world, owner, "four kites", count=4, size="square")

    refusal = await private_answer(await press(world, stranger, four, "U1"))

    assert f"Only <@{owner.id}>" in refusal.text()
    by_mod = await picked(world, world.moderator, four, 4)
    assert by_mod.attachments[0].data == image(four, 4)


async def test_the_buttons_of_a_picked_image_act_on_that_image(world: Harness) -> None:
    eve = world.member("eve")
    four = await imagine(world, eve, "four owls", count=4, seed=4400, size="square", steps=10)
    alone = await picked(world, eve, four, 3)

    info = await private_answer(await press(world, eve, alone, "Info"))
    shown = {f["name"]: f["value"] for f in info.embeds[0]["fields"]}
    assert shown["Seed"] == "`4402`" and shown["Images"] == "1"
    assert "seed:4402 " in shown["Reproduce it"] and shown["Reproduce it"].rstrip("`\n").endswith(
        "count:1"
    )

    opened = await press(world, eve, alone, "Edit")
    assert opened.response_type == MODAL
    form = await opened.wait_for_modal(timeout=WAIT)
    assert "same seed" in form.title and "close variation" in form.title
    values = {i["label"]: i.get("value") for i in form.inputs()}
    seed_label = next(label for label in values if label.startswith("Seed"))
    assert values[seed_label] == "4402" and "kept" in seed_label
    done = await world.discord.submit_modal(eve, form, {"Prompt": "four owls at dusk"})
    await done.acknowledged(timeout=WAIT)
    edited = await done.wait_for_original(lambda m: len(m.attachments) == 1, timeout=WAIT)
    sent = world.api.requests[-1].json
    assert (sent["prompt"], sent["seed"], sent["n"]) == ("four owls at dusk", 4402, 1)
    assert fields(edited)["Seed"] == "`4402`"

    again = await press(world, eve, alone, "Re-roll")
    rerolled = await again.wait_for_original(lambda m: len(m.attachments) == 1, timeout=WAIT)
    assert world.api.requests[-1].json["seed"] != 4402
    assert rerolled.embeds[0]["description"] == "four owls"
    assert await charged(world, eve) == 4 + 1 + 1

    stranger = world.member("stranger")
    refused = await private_answer(await press(world, stranger, alone, "Delete"))
    assert f"Only <@{eve.id}>" in refused.text()
    await (await press(world, eve, alone, "Delete")).wait_for_followup(timeout=WAIT)
    assert alone.deleted and not four.deleted


async def test_a_pick_works_on_a_result_posted_before_a_restart(world: Harness) -> None:
    fox = world.member("fox")
    four = await imagine(world, fox, "four lighthouses", count=4, seed=123, size="square")

    await world.restart_bot()

    alone = await picked(world, fox, four, 4)
    assert alone.attachments[0].data == image(four, 4)
    assert fields(alone)["Seed"] == "`126`"
    info = await private_answer(await press(world, fox, alone, "Info"))
    assert {f["name"]: f["value"] for f in info.embeds[0]["fields"]}["Seed"] == "`126`"
    assert await charged(world, fox) == 4


async def test_forged_image_numbers_are_refused_privately_and_touch_nothing(
    world: Harness,
) -> None:
    gil = world.member("gil")
    two = await imagine(world, gil, "two moons", count=2, size="square")
    match = FOOTER_ID.search(two.embeds[0]["footer"]["text"])
    assert match is not None
    gen = match[1]
    requests = len(world.api.requests)

    forged_ids = [f"gen:pick:{gen}:3", f"gen:pick:{gen}:9", f"gen:pick:{gen}", f"gen:edit:{gen}:4"]
    forged_ids.append(f"gen:delete:{gen}:1")  # a picked image's Delete, on the whole result
    for forged in forged_ids:
        it = await world.discord.press_forged_button(gil, two, forged)
        await it.acknowledged(timeout=WAIT)
        reply = await private_answer(it)
        assert "does not belong to a result here" in reply.text(), forged

    assert not two.deleted, "a picked image's Delete never deletes the whole result"
    assert len(world.api.requests) == requests
    assert await charged(world, gil) == 2


def loaded_results() -> ModuleType:
    """The ``cogs.results`` the running bot uses: discord.py's ``load_extension`` executes
    a fresh copy of the module, so a setting patched on the copy imported here would not
    reach the buttons the bot answers with."""
    return sys.modules["cogs.results"]


async def test_a_pick_whose_image_cannot_be_fetched_says_so_privately(
    world: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Discord's file host hangs: the pick gives up within its bound, removes its public
    "thinking" line and tells the presser privately; nothing is charged or generated."""
    monkeypatch.setattr(loaded_results(), "PICK_FETCH_TIMEOUT", 0.3)
    hal = world.member("hal")
    two = await imagine(world, hal, "two lanterns", count=2, size="square")
    requests = len(world.api.requests)
    world.discord.stall("GET /attachments/", count=1)
    try:
        it = await press(world, hal, two, "U2")
        assert it.response_type == DEFERRED_CHANNEL_MESSAGE
        told = await it.wait_for_followup(timeout=WAIT)
    finally:
        world.discord.release_stalls()

    assert told.ephemeral and "could not fetch that image" in told.text()
    assert len(world.api.requests) == requests
    assert await charged(world, hal) == 2
    alone = await picked(world, hal, two, 2)  # the next press works
    assert alone.attachments[0].data == image(two, 2)


async def test_a_pick_whose_post_never_answers_leaves_no_thinking_line(
    world: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The edit that would show the picked image hangs: the public "thinking" line is
    removed and the presser told privately, as when the image cannot be fetched."""
    monkeypatch.setattr(loaded_results(), "PICK_FETCH_TIMEOUT", 0.3)
    ida = world.member("ida")
    two = await imagine(world, ida, "two kites", count=2, size="square")
    world.discord.stall("PATCH /api/v10/webhooks/", count=1)
    try:
        it = await press(world, ida, two, "U1")
        told = await it.wait_for_followup(timeout=WAIT)
    finally:
        world.discord.release_stalls()
    assert told.ephemeral and "could not fetch that image" in told.text()
    assert it.original_deleted, "no public thinking line left"
