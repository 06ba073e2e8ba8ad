"""The buttons under a result: Re-roll, Variations, Edit (a dialog), Info and Delete.

Members press them on real result messages in the Discord emulator, and the tests
read what they see: a new public result linked to its origin, a private dialog or
answer, a deleted message. The buttons carry only a generation id, so they must
also work on a message posted before the bot restarted.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio

from bot.store.base import MemberContext
from tests.e2e.harness import Harness
from tests.emulators.discord import InteractionRecord, Member, Message
from tests.emulators.discord.interactions import (
    CHANNEL_MESSAGE,
    DEFERRED_CHANNEL_MESSAGE,
    MODAL,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

WAIT = 15.0
GENERATION_NUMBER = re.compile(r"generation #(\d+)")
LABELS = ("Re-roll", "Variations", "Edit", "Info", "Delete")
MAX_CUSTOM_ID = 100


# -- steps -----------------------------------------------------------------------------------


async def imagine(world: Harness, member: Member, prompt: str, **options: Any) -> Message:
    """``member`` runs /imagine in #general and the public result with its buttons appears."""
    it = await world.discord.run_slash_command(
        member, world.general, "imagine", prompt=prompt, **options
    )
    await it.acknowledged(timeout=WAIT)
    count = options.get("count", 1)
    return await it.wait_for_original(lambda m: len(m.attachments) == count, timeout=WAIT)


async def press(world: Harness, member: Member, message: Message, label: str) -> InteractionRecord:
    """``member`` clicks a button and the bot acknowledges the click within Discord's 3 s."""
    it = await world.discord.press_button(member, message, label=label)
    await it.acknowledged(timeout=WAIT)
    return it


async def new_result(it: InteractionRecord, count: int = 1) -> Message:
    """The public result a button press or dialog produced: a new message, not an edit."""
    assert it.response_type == DEFERRED_CHANNEL_MESSAGE, it
    result = await it.wait_for_original(lambda m: len(m.attachments) == count, timeout=WAIT)
    assert not result.ephemeral
    return result


async def private_answer(it: InteractionRecord) -> Message:
    """An immediate answer only the presser sees (no deferral, so nothing was queued)."""
    assert it.response_type == CHANNEL_MESSAGE, it
    reply = await it.wait_for_original(timeout=WAIT)
    assert reply.ephemeral, reply
    return reply


def fields(result: Message) -> dict[str, str]:
    return {f["name"]: f["value"] for f in result.embeds[0]["fields"]}


def seeds_of(result: Message) -> list[int]:
    """Each image's seed as the result shows it ("Seed", or "Seeds" by image number)."""
    shown = fields(result)
    return [int(seed) for seed in re.findall(r"`(\d+)`", shown.get("Seed") or shown["Seeds"])]


def seed_of(result: Message) -> int:
    """The first image's seed (the one a /imagine seed: option gives)."""
    return seeds_of(result)[0]


def generation_id(result: Message) -> int:
    match = GENERATION_NUMBER.search(result.embeds[0]["footer"]["text"])
    assert match, result.embeds[0]
    return int(match[1])


def jump_url(world: Harness, message: Message) -> str:
    return f"https://discord.com/channels/{world.guild.id}/{message.channel.id}/{message.id}"


async def charged_today(world: Harness, member: Member) -> int:
    """Images the usage log holds against ``member`` today (in flight included)."""
    bot = world.running_bot
    summary = await bot.store.usage(
        MemberContext(
            guild_id=world.guild.id,
            channel_id=world.general.id,
            user_id=member.id,
            role_ids=tuple(role.id for role in member.roles),
        ),
        bot_default_limit=bot.settings.default_daily_limit,
    )
    return summary.used


@pytest_asyncio.fixture(loop_scope="module", autouse=True)
async def judged(world: Harness) -> AsyncIterator[None]:
    """Whatever a story did, nobody saw "This interaction failed" and no request was invalid."""
    yield
    assert world.discord.interaction_failures == []
    world.discord.assert_no_errors()


# -- Re-roll and Variations ------------------------------------------------------------------


def database_path(world: Harness) -> str:
    url = world.settings.database_url
    assert url.startswith("sqlite:///"), url
    return url.removeprefix("sqlite:///")


async def test_reroll_makes_a_new_image_with_a_new_seed_linked_to_the_original(
    world: Harness,
) -> None:
    alice = world.member("alice")
    original = await imagine(world, alice, "a lantern in fog", size="square", steps=12)
    assert [b["label"] for b in original.buttons] == list(LABELS)

    again = await new_result(await press(world, alice, original, "Re-roll"))

    assert again.id != original.id
    assert not original.deleted and original.attachments, "the original stays as it was"
    assert again.embeds[0]["description"] == "a lantern in fog"
    shown, before = fields(again), fields(original)
    assert shown["Size"] == before["Size"] == "square (512×512)"
    assert shown["Steps"] == before["Steps"] == "12"
    assert (shown["Guidance"], shown["Acceleration"]) == (
        before["Guidance"],
        before["Acceleration"],
    )
    assert seed_of(again) != seed_of(original)
    assert world.api.requests[-1].json["seed"] == seed_of(again)
    assert shown["Made from"] == (
        f"[generation #{generation_id(original)}]({jump_url(world, original)})"
    )
    assert [b["label"] for b in again.buttons] == list(LABELS), "a re-roll can be re-rolled"


async def test_variations_are_four_new_images_in_one_message(world: Harness) -> None:
    bob = world.member("bob")
    original = await imagine(world, bob, "a paper boat on a puddle")

    varied = await new_result(await press(world, bob, original, "Variations"), count=4)

    assert len(varied.embeds) == 4, "one gallery of four"
    assert varied.embeds[0]["description"] == "a paper boat on a puddle"
    asked = [r.json for r in world.api.requests[-4:]]
    assert [body["n"] for body in asked] == [1, 1, 1, 1], "one request per image"
    first = seed_of(varied)
    assert [body["seed"] for body in asked] == seeds_of(varied) == list(range(first, first + 4))
    assert seed_of(varied) != seed_of(original)
    assert jump_url(world, original) in fields(varied)["Made from"]


async def test_a_press_is_charged_to_the_member_who_pressed(world: Harness) -> None:
    author, fan = world.member("author"), world.member("fan")
    original = await imagine(world, author, "a tiny robot gardener")

    await new_result(await press(world, fan, original, "Re-roll"))
    await new_result(await press(world, fan, original, "Variations"), count=4)

    assert await charged_today(world, author) == 1
    assert await charged_today(world, fan) == 5


async def test_a_press_beyond_the_presser_s_quota_is_refused_privately(world: Harness) -> None:
    author, fan = world.member("author"), world.member("fan")
    original = await imagine(world, author, "a tiny robot gardener")
    limited = await world.discord.run_slash_command(
        world.moderator, world.general, "quota set-user", member=fan, limit=2
    )
    await private_answer(await limited.acknowledged(timeout=WAIT))
    requests = len(world.api.requests)

    refusal = await private_answer(await press(world, fan, original, "Variations"))

    assert "2 images left today" in refusal.text()
    assert len(world.api.requests) == requests
    assert await charged_today(world, fan) == 0
    await new_result(await press(world, fan, original, "Re-roll"))
    assert await charged_today(world, fan) == 1


# -- Edit ---------------------------------------------------------------------------------------


async def test_edit_opens_a_dialog_with_the_settings_and_generates_the_change(
    world: Harness,
) -> None:
    carol = world.member("carol")
    original = await imagine(world, carol, "a red kite", steps=20, guidance=6.5, seed=4242)

    opened = await press(world, carol, original, "Edit")
    assert opened.response_type == MODAL
    form = await opened.wait_for_modal(timeout=WAIT)
    values = {i["label"]: i.get("value") for i in form.inputs()}
    assert values == {
        "Prompt": "a red kite",
        "Seed (empty for a random one)": "4242",
        "Steps (1–50)": "20",
        "Guidance (1–20)": "6.5",
    }

    done = await world.discord.submit_modal(carol, form, {"Prompt": "a blue kite"})
    await done.acknowledged(timeout=WAIT)
    edited = await new_result(done)

    sent = world.api.requests[-1].json
    assert sent["prompt"] == "a blue kite"
    assert (sent["seed"], sent["num_inference_steps"], sent["guidance_scale"]) == (4242, 20, 6.5)
    assert edited.embeds[0]["description"] == "a blue kite"
    assert jump_url(world, original) in fields(edited)["Made from"]


@pytest.mark.parametrize(
    ("seed", "steps", "guidance"),
    [("１２３", "２０", "３．５"), ("１２３", "２０", "３，５")],  # a Japanese keyboard's digits
    ids=["full-width-dot", "full-width-comma"],
)
async def test_edit_reads_full_width_digits_as_the_numbers_they_are(
    world: Harness, seed: str, steps: str, guidance: str
) -> None:
    kumi = world.member("kumi")
    original = await imagine(world, kumi, "a paper crane", seed=7)
    form = await (await press(world, kumi, original, "Edit")).wait_for_modal(timeout=WAIT)

    done = await world.discord.submit_modal(
        kumi,
        form,
        {
            "Seed (empty for a random one)": seed,
            "Steps (1–50)": steps,
            "Guidance (1–20)": guidance,
        },
    )
    await done.acknowledged(timeout=WAIT)
    await new_result(done)
    asked = world.api.requests[-1].json
    assert (asked["seed"], asked["num_inference_steps"], asked["guidance_scale"]) == (123, 20, 3.5)


async def test_edit_with_an_empty_seed_picks_a_new_one(world: Harness) -> None:
    dave = world.member("dave")
    original = await imagine(world, dave, "a glass apple", seed=7)
    form = await (await press(world, dave, original, "Edit")).wait_for_modal(timeout=WAIT)

    done = await world.discord.submit_modal(
        dave, form, {"Seed (empty for a random one)": "", "Steps (1–50)": "9"}
    )
    await done.acknowledged(timeout=WAIT)
    edited = await new_result(done)

    assert world.api.requests[-1].json["num_inference_steps"] == 9
    assert seed_of(edited) == world.api.requests[-1].json["seed"] != 7


@pytest.mark.parametrize(
    ("answers", "says"),
    [
        ({"Steps (1–50)": "ab"}, "Steps must be a whole number"),
        ({"Guidance (1–20)": "lots"}, "Guidance must be a number"),
        ({"Seed (empty for a random one)": "seven"}, "Seed must be a whole number"),
        ({"Steps (1–50)": "99"}, "50"),
        ({"Guidance (1–20)": "0.5"}, "20"),
    ],
)
async def test_invalid_dialog_input_says_what_to_fix_and_costs_nothing(
    world: Harness, answers: dict[str, str], says: str
) -> None:
    erin = world.member("erin")
    original = await imagine(world, erin, "a stone bridge")
    form = await (await press(world, erin, original, "Edit")).wait_for_modal(timeout=WAIT)
    requests = len(world.api.requests)

    done = await world.discord.submit_modal(erin, form, answers)
    await done.acknowledged(timeout=WAIT)

    reply = await private_answer(done)
    assert says in reply.text()
    assert len(world.api.requests) == requests
    assert await charged_today(world, erin) == 1, "only the original image is charged"


async def test_edit_keeps_a_precise_guidance_exactly(world: Harness) -> None:
    fay = world.member("fay")
    original = await imagine(world, fay, "a copper kettle", guidance=7.123456)
    form = await (await press(world, fay, original, "Edit")).wait_for_modal(timeout=WAIT)
    assert {i["label"]: i.get("value") for i in form.inputs()}["Guidance (1–20)"] == "7.123456"

    done = await world.discord.submit_modal(fay, form, {"Prompt": "a silver kettle"})
    await done.acknowledged(timeout=WAIT)
    await new_result(done)

    assert world.api.requests[-1].json["guidance_scale"] == 7.123456


# -- Info -----------------------------------------------------------------------------------------


async def test_info_shows_every_setting_privately_with_a_command_to_copy(
    world: Harness,
) -> None:
    gus, curious = world.member("gus"), world.member("curious")
    original = await imagine(
        world, gus, "a fox in snow", width=640, height=480, steps=17, guidance=3.5, seed=123456789
    )

    reply = await private_answer(await press(world, curious, original, "Info"))

    embed = reply.embeds[0]
    assert embed["description"] == "a fox in snow"
    shown = {f["name"]: f["value"] for f in embed["fields"]}
    assert shown["Seed"] == "`123456789`"
    assert shown["Size"] == "custom 640×480"
    assert (shown["Steps"], shown["Guidance"]) == ("17", "3.5")
    assert shown["Acceleration"] == "regular"
    assert shown["Images"] == "1"
    assert shown["Requested by"] == f"<@{gus.id}>"
    command = shown["Reproduce it"].strip("`\n")
    assert command == (
        "/imagine prompt:a fox in snow width:640 height:480 steps:17 seed:123456789 "
        "guidance:3.5 acceleration:regular count:1"
    )
    assert await charged_today(world, curious) == 0


async def test_info_shows_a_precise_guidance_exactly(world: Harness) -> None:
    hal = world.member("hal")
    original = await imagine(world, hal, "a pewter jug", guidance=7.123456)

    reply = await private_answer(await press(world, hal, original, "Info"))

    shown = {f["name"]: f["value"] for f in reply.embeds[0]["fields"]}
    assert shown["Guidance"] == "7.123456"


async def test_the_info_command_line_reproduces_a_precise_guidance(world: Harness) -> None:
    ian = world.member("ian")
    original = await imagine(world, ian, "a pewter jug", guidance=7.123456)

    reply = await private_answer(await press(world, ian, original, "Info"))

    shown = {f["name"]: f["value"] for f in reply.embeds[0]["fields"]}
    assert "guidance:7.123456 " in shown["Reproduce it"]


# -- Delete -------------------------------------------------------------------------------------


async def test_delete_by_a_stranger_is_refused_and_the_message_stays(world: Harness) -> None:
    owner, stranger = world.member("owner"), world.member("stranger")
    original = await imagine(world, owner, "a lighthouse")

    reply = await private_answer(await press(world, stranger, original, "Delete"))

    assert f"Only <@{owner.id}>" in reply.text()
    assert "Manage Messages" in reply.text()
    assert not original.deleted


async def test_delete_by_the_owner_removes_the_message(world: Harness) -> None:
    owner = world.member("owner")
    original = await imagine(world, owner, "a lighthouse")

    it = await press(world, owner, original, "Delete")

    confirmation = await it.wait_for_followup(timeout=WAIT)
    assert confirmation.ephemeral and "Deleted" in confirmation.text()
    assert original.deleted


async def test_delete_by_a_moderator_removes_the_message(world: Harness) -> None:
    owner = world.member("owner")
    original = await imagine(world, owner, "a lighthouse")

    it = await press(world, world.moderator, original, "Delete")

    await it.wait_for_followup(timeout=WAIT)
    assert original.deleted


# -- durability --------------------------------------------------------------------------------


async def test_buttons_work_after_the_bot_restarted(world: Harness) -> None:
    ivy = world.member("ivy")
    original = await imagine(world, ivy, "a clock tower", seed=31337)

    await world.restart_bot()

    info = await private_answer(await press(world, ivy, original, "Info"))
    assert {f["name"]: f["value"] for f in info.embeds[0]["fields"]}["Seed"] == "`31337`"
    again = await new_result(await press(world, ivy, original, "Re-roll"))
    assert again.embeds[0]["description"] == "a clock tower"
    form = await (await press(world, ivy, original, "Edit")).wait_for_modal(timeout=WAIT)
    done = await world.discord.submit_modal(ivy, form, {"Prompt": "a clock tower at night"})
    await done.acknowledged(timeout=WAIT)
    assert (await new_result(done)).embeds[0]["description"] == "a clock tower at night"
    await (await press(world, ivy, original, "Delete")).wait_for_followup(timeout=WAIT)
    assert original.deleted


async def test_a_dialog_opened_before_a_restart_can_still_be_submitted(world: Harness) -> None:
    jay = world.member("jay")
    original = await imagine(world, jay, "a windmill")
    form = await (await press(world, jay, original, "Edit")).wait_for_modal(timeout=WAIT)

    await world.restart_bot()

    done = await world.discord.submit_modal(jay, form, {"Prompt": "a windmill in the rain"})
    await done.acknowledged(timeout=WAIT)
    edited = await new_result(done)
    assert edited.embeds[0]["description"] == "a windmill in the rain"
    assert jump_url(world, original) in fields(edited)["Made from"]


async def test_custom_ids_fit_discords_limit(world: Harness) -> None:
    kim = world.member("kim")
    original = await imagine(world, kim, "a quiet street")
    form = await (await press(world, kim, original, "Edit")).wait_for_modal(timeout=WAIT)

    custom_ids = [b["custom_id"] for b in original.buttons]
    custom_ids += [form.custom_id] + [i["custom_id"] for i in form.inputs()]
    assert all(0 < len(c) <= MAX_CUSTOM_ID for c in custom_ids), custom_ids
    longest = max(len(c.replace(str(generation_id(original)), "9" * 19)) for c in custom_ids)
    assert longest <= MAX_CUSTOM_ID, "still fits with the largest possible generation id"


async def test_buttons_on_a_pruned_result_say_it_is_too_old(world: Harness) -> None:
    lee = world.member("lee")
    original = await imagine(world, lee, "a forgotten garden")
    form = await (await press(world, lee, original, "Edit")).wait_for_modal(timeout=WAIT)
    store = world.running_bot.store
    record = await store.get_generation(generation_id(original))
    assert record is not None
    # As the daily pruning does once the result is older than RETENTION_DAYS.
    while (await store.prune_generations(record.created_at + timedelta(seconds=1), limit=50)).more:
        pass
    assert await store.get_generation(generation_id(original)) is None
    requests = len(world.api.requests)

    too_old = f"too old: I keep the details of generations for {world.settings.retention_days} days"
    for label in LABELS:
        reply = await private_answer(await press(world, lee, original, label))
        assert too_old in reply.text(), label
    done = await world.discord.submit_modal(lee, form, {"Prompt": "a remembered garden"})
    await done.acknowledged(timeout=WAIT)
    assert too_old in (await private_answer(done)).text()
    assert len(world.api.requests) == requests
    assert not original.deleted

    tidied = await press(world, world.moderator, original, "Delete")
    confirmation = await tidied.wait_for_followup(timeout=WAIT)
    assert confirmation.ephemeral and "Deleted" in confirmation.text()
    assert original.deleted  # a moderator can still remove a result whose record is gone


async def test_buttons_follow_the_server_rules_of_today(world: Harness) -> None:
    mia = world.member("mia")
    original = await imagine(world, mia, "a Ghost ship at dawn")
    store, mod = world.running_bot.store, world.moderator.id
    await store.block_word(world.guild.id, "ghost", actor_id=mod)
    try:
        refusal = await private_answer(await press(world, mia, original, "Re-roll"))
        assert "“ghost”" in refusal.text()
        form = await (await press(world, mia, original, "Edit")).wait_for_modal(timeout=WAIT)
        done = await world.discord.submit_modal(mia, form, {"Steps (1–50)": "10"})
        await done.acknowledged(timeout=WAIT)
        assert "“ghost”" in (await private_answer(done)).text()
    finally:
        await store.unblock_word(world.guild.id, "ghost", actor_id=mod)

    await store.allow_channel(world.guild.id, world.lounge.id, actor_id=mod)
    try:
        refusal = await private_answer(await press(world, mia, original, "Variations"))
        assert "not enabled in this channel" in refusal.text()
    finally:
        await store.disallow_channel(world.guild.id, world.lounge.id, actor_id=mod)
    assert await charged_today(world, mia) == 1


async def test_a_variations_refusal_does_not_talk_about_a_count_option(world: Harness) -> None:
    author, fan = world.member("author"), world.member("fan")
    original = await imagine(world, author, "a tiny robot gardener")
    await world.running_bot.store.set_member_limit(world.guild.id, fan.id, 2, actor_id=1)

    refusal = await private_answer(await press(world, fan, original, "Variations"))

    assert "2 images left today" in refusal.text()
    assert "`count`" not in refusal.text()
