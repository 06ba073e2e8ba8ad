"""The member's workspace, played through the real client: /preferences, /history, server
styles picked with /imagine style: (autocomplete), and the "Imagine this" message command.

What a member would notice is checked: what the image API was asked for (preferences
apply only to the member who set them and never beat a typed option; a style's text is
sent, named and checked), what each member may see (history stays private and their
own), and that every answer arrives within Discord's deadline.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from cogs.common import messages
from tests.e2e.harness import Harness
from tests.emulators.discord import ClientRejected, InteractionRecord, Member, Message
from tests.emulators.discord.interactions import (
    CHANNEL_MESSAGE,
    DEFERRED_CHANNEL_MESSAGE,
    MODAL,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

WAIT = 15.0
GENERATION_NUMBER = re.compile(r"generation #(\d+)")


async def run(world: Harness, member: Member, path: str, /, **options: Any) -> InteractionRecord:
    it = await world.discord.run_slash_command(member, world.general, path, **options)
    await it.acknowledged(timeout=WAIT)
    return it


async def private(world: Harness, member: Member, path: str, /, **options: Any) -> Message:
    it = await run(world, member, path, **options)
    assert it.response_type == CHANNEL_MESSAGE, it
    reply = await it.wait_for_original(timeout=WAIT)
    assert reply.ephemeral, reply
    return reply


async def result_of(it: InteractionRecord, count: int = 1) -> Message:
    await it.acknowledged(timeout=WAIT)
    assert it.response_type == DEFERRED_CHANNEL_MESSAGE, it
    return await it.wait_for_original(lambda m: len(m.attachments) == count, timeout=WAIT)


async def imagine(world: Harness, member: Member, prompt: str, **options: Any) -> Message:
    it = await world.discord.run_slash_command(
        member, world.general, "imagine", prompt=prompt, **options
    )
    return await result_of(it, options.get("count", 1))


def sent(world: Harness) -> dict[str, Any]:
    """What the image API was last asked for."""
    return world.api.requests[-1].json


def fields(result: Message) -> dict[str, str]:
    return {f["name"]: f["value"] for f in result.embeds[0]["fields"]}


def generation_id(result: Message) -> int:
    match = GENERATION_NUMBER.search(result.embeds[0]["footer"]["text"])
    assert match is not None
    return int(match[1])


@pytest_asyncio.fixture(loop_scope="module", autouse=True)
async def judged(world: Harness) -> AsyncIterator[None]:
    """No interaction failed, no request was invalid; styles and rules cleared afterwards."""
    yield
    assert world.discord.interaction_failures == []
    world.discord.assert_no_errors()
    store = world.running_bot.store
    for style in await store.styles(world.guild.id):
        await store.remove_style(world.guild.id, style.name, actor_id=world.moderator.id)
    for word in (await store.guild_policy(world.guild.id)).blocked_words:
        await store.unblock_word(world.guild.id, word, actor_id=world.moderator.id)


# -- /preferences ----------------------------------------------------------------------------


async def test_preferences_apply_to_their_owner_only_and_never_beat_a_typed_option(
    world: Harness,
) -> None:
    alice, bob = world.member("alice"), world.member("bob")
    saved = await private(world, alice, "preferences set", size="square_hd", steps=35, guidance=7.5)
    assert "saved" in saved.text() and "35" in saved.text()

    await imagine(world, alice, "a quiet harbour")
    asked = sent(world)
    assert (asked["size"], asked["num_inference_steps"], asked["guidance_scale"]) == (
        "square_hd",
        35,
        7.5,
    )
    await imagine(world, bob, "a quiet harbour")  # alice's defaults are hers alone
    asked = sent(world)
    assert (asked["size"], asked["num_inference_steps"], asked["guidance_scale"]) == (
        "landscape_4_3",
        28,
        4.5,
    )
    await imagine(world, alice, "a quiet harbour", steps=12, width=512, height=768)
    asked = sent(world)  # typed options win, and a typed custom size replaces the preset
    assert asked["num_inference_steps"] == 12 and asked["guidance_scale"] == 7.5
    assert asked["image_size"] == {"width": 512, "height": 768} and "size" not in asked

    shown = await private(world, alice, "preferences show")
    assert "square_hd" in shown.text() and "7.5" in shown.text()
    assert "not set" in (await private(world, bob, "preferences show")).text()

    reset = await private(world, alice, "preferences reset")
    assert "cleared" in reset.text()
    await imagine(world, alice, "a quiet harbour")
    assert sent(world)["num_inference_steps"] == 28


async def test_a_bad_preference_is_refused_as_imagine_refuses_it(world: Harness) -> None:
    alice = world.member("alice")
    await private(world, alice, "preferences set", steps=40)
    refused = await private(world, alice, "preferences set", width=512)
    assert "Width and height must both be set" in refused.text()
    refused = await private(world, alice, "preferences set", width=500, height=512)
    assert "multiple of 16" in refused.text()
    refused = await private(world, alice, "preferences set", style="nope")
    assert "no style “nope”" in refused.text()
    nothing = await private(world, alice, "preferences set")
    assert "at least one option" in nothing.text()
    kept = await world.running_bot.store.preferences(world.guild.id, alice.id)
    assert (kept.steps, kept.width, kept.height, kept.style) == (40, None, None, None)


# -- server styles ---------------------------------------------------------------------------


async def test_a_style_is_suggested_sent_named_kept_on_reroll_and_checked(
    world: Harness,
) -> None:
    mod, alice = world.moderator, world.member("alice")
    added = await private(
        world, mod, "settings add-style", name="Watercolor", text="watercolor, soft edges"
    )
    assert "added" in added.text()
    await private(world, mod, "settings add-style", name="Noir", text="film noir, high contrast")
    listed = await private(world, mod, "settings show")
    assert "Watercolor" in listed.text() and "film noir" in listed.text()

    typing = await world.discord.autocomplete(
        alice, world.general, "imagine", focused="style", prompt="a fox", style="wat"
    )
    choices = await typing.wait_for_choices(timeout=WAIT)
    assert [c["value"] for c in choices] == ["Watercolor"]
    assert typing.ack_latency is not None and typing.ack_latency < typing.deadline
    everything = await world.discord.autocomplete(
        alice, world.general, "imagine", focused="style", prompt="a fox"
    )
    assert [c["value"] for c in await everything.wait_for_choices(timeout=WAIT)] == [
        "Noir",
        "Watercolor",
    ]

    result = await imagine(world, alice, "a red fox", style="watercolor")
    assert sent(world)["prompt"] == "a red fox, watercolor, soft edges"
    assert fields(result)["Style"] == "Watercolor"
    assert "a red fox" in result.embeds[0]["description"]

    info = await world.discord.press_button(alice, result, label="Info")
    await info.acknowledged(timeout=WAIT)
    shown = await info.wait_for_original(timeout=WAIT)
    assert "Watercolor" in shown.text() and "style:Watercolor" in shown.text()

    again = await world.discord.press_button(alice, result, label="Re-roll")
    await result_of(again)
    assert sent(world)["prompt"] == "a red fox, watercolor, soft edges"

    before = len(world.api.requests)
    await private(world, mod, "settings block-word", word="soft")
    refused = await private(world, alice, "imagine", prompt="a red fox", style="Watercolor")
    assert "soft" in refused.text() and "does not allow" in refused.text()
    assert len(world.api.requests) == before  # the joined prompt was checked, not sent


async def test_an_unknown_style_is_refused_with_the_list_and_removal_works(
    world: Harness,
) -> None:
    mod, alice = world.moderator, world.member("alice")
    await private(world, mod, "settings add-style", name="Ink", text="ink wash")
    before = len(world.api.requests)
    refused = await private(world, alice, "imagine", prompt="a crane", style="Oil")
    assert "no style “Oil”" in refused.text() and "“Ink”" in refused.text()
    assert len(world.api.requests) == before

    await private(world, alice, "preferences set", style="ink")
    await imagine(world, alice, "a crane")
    assert sent(world)["prompt"] == "a crane, ink wash"  # the preferred style applies

    removed = await private(world, mod, "settings remove-style", name="INK")
    assert "removed" in removed.text()
    gone = await private(world, alice, "imagine", prompt="a crane")
    assert "no longer on this server" in gone.text()
    await private(world, alice, "preferences reset")


async def test_only_moderators_manage_styles_and_a_server_holds_25(world: Harness) -> None:
    mod, alice = world.moderator, world.member("alice")
    with pytest.raises(ClientRejected, match="hidden"):
        await world.discord.run_slash_command(
            alice, world.general, "settings add-style", name="Mine", text="anything"
        )
    for i in range(25):
        await world.running_bot.store.add_style(world.guild.id, f"s{i:02}", "t", actor_id=mod.id)
    full = await private(world, mod, "settings add-style", name="One more", text="text")
    assert "at most 25 styles" in full.text()
    typing = await world.discord.autocomplete(
        alice, world.general, "imagine", focused="style", prompt="p"
    )
    assert len(await typing.wait_for_choices(timeout=WAIT)) == 25


async def test_style_suggestions_beat_discords_deadline_even_on_a_hung_database(
    world: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = world.member("alice")
    release = asyncio.Event()

    async def hung(*args: Any) -> Any:
        await release.wait()
        raise AssertionError("the suggestions waited for a hung read")

    monkeypatch.setattr(world.running_bot.store, "styles", hung)
    try:
        typing = await world.discord.autocomplete(
            alice, world.general, "imagine", focused="style", prompt="p", style="a"
        )
        assert await typing.wait_for_choices(timeout=WAIT) == []  # no suggestions, in time
        assert typing.ack_latency is not None and typing.ack_latency < typing.deadline
    finally:
        monkeypatch.undo()
        release.set()


# -- /history --------------------------------------------------------------------------------


async def test_history_shows_a_member_only_their_own_newest_first_and_pages(
    world: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(messages, "HISTORY_PAGE_SIZE", 2)
    alice, bob = world.member("alice"), world.member("bob")
    results = [await imagine(world, alice, f"alice's picture {i}", seed=100 + i) for i in range(3)]
    await imagine(world, bob, "bob's secret picture")

    page = await private(world, alice, "history")
    text = page.text()
    assert "alice's picture 2" in text and "alice's picture 1" in text
    assert text.index("picture 2") < text.index("picture 1")  # newest first
    assert "bob's" not in text and "picture 0" not in text
    assert "seed `102`" in page.embeds[0]["description"] and "<t:" in text
    assert results[2].jump_url in page.embeds[0]["description"]
    assert "Page 1 of 2" in text

    older = await world.discord.press_button(alice, page, label="Older ▶")
    await older.acknowledged(timeout=WAIT)
    assert older.response_type == 7  # the same private message turns the page
    assert "picture 0" in page.text() and "picture 2" not in page.text()

    bobs = await private(world, bob, "history")
    assert "bob's secret picture" in bobs.text() and "alice" not in bobs.text()
    assert "picture" not in (await private(world, bob, "history", page=2)).text().replace(
        "bob's secret picture", ""
    )

    # A forged page button naming alice gets bob nothing of hers.
    forged = await world.discord.press_forged_button(bob, bobs, f"hist:{alice.id}:{alice.id}:1")
    await forged.acknowledged(timeout=WAIT)
    answer = await forged.wait_for_original(timeout=WAIT)
    assert answer.ephemeral and "alice's picture" not in answer.text()
    forged = await world.discord.press_forged_button(bob, bobs, f"hist:{alice.id}:{bob.id}:1")
    await forged.acknowledged(timeout=WAIT)
    assert "alice's picture" not in (await forged.wait_for_original(timeout=WAIT)).text()

    refused = await private(world, bob, "history", member=alice)
    assert "Manage Server" in refused.text() and "alice's picture" not in refused.text()
    looked = await private(world, world.moderator, "history", member=alice)
    assert "alice's picture 2" in looked.text()

    await world.restart_bot()  # the page buttons still work
    newer = await world.discord.press_button(alice, page, label="◀ Newer")
    await newer.acknowledged(timeout=WAIT)
    assert "alice's picture 2" in page.text()


# -- "Imagine this" --------------------------------------------------------------------------


async def test_imagine_this_opens_a_dialog_with_the_message_text_and_generates(
    world: Harness,
) -> None:
    alice, bob = world.member("alice"), world.member("bob")
    said = await world.discord.send_message(bob, world.general, "a lighthouse at dusk")
    opened = await world.discord.run_message_command(alice, said, "Imagine this")
    await opened.acknowledged(timeout=WAIT)
    assert opened.response_type == MODAL
    modal = await opened.wait_for_modal()
    prompt_input = next(i for i in modal.inputs() if i["custom_id"] == "prompt")
    assert prompt_input["value"] == "a lighthouse at dusk"

    submitted = await world.discord.submit_modal(
        alice, modal, {"prompt": "a lighthouse at dusk, stormy", "size": "1024x576", "seed": "77"}
    )
    result = await result_of(submitted)
    asked = sent(world)
    assert asked["prompt"] == "a lighthouse at dusk, stormy" and asked["seed"] == 77
    assert asked["image_size"] == {"width": 1024, "height": 576}
    assert fields(result)["Seed"] == "`77`"

    bad = await world.discord.submit_modal(alice, modal, {"size": "huge"})
    await bad.acknowledged(timeout=WAIT)
    assert bad.response_type == CHANNEL_MESSAGE
    assert "could not read the size" in (await bad.wait_for_original(timeout=WAIT)).text()


@pytest.mark.parametrize(
    ("size", "seed", "width", "height"),
    [
        ("１０２４ｘ５７６", "７７", 1024, 576),  # full-width digits and x
        ("1024ｘ576", "77", 1024, 576),  # only the x full-width
        ("１０２４×７６８", "１２３", 1024, 768),  # the multiplication sign stays itself
        ("１０２４　＊　７６８", "1", 1024, 768),  # ideographic spaces, a full-width star
        ("ｓｑｕａｒｅ", "0", 512, 512),  # a preset's name typed full-width
    ],
    ids=["digits-and-x", "x", "times-sign", "spaces-and-star", "preset"],
)
async def test_imagine_this_reads_sizes_and_seeds_typed_in_full_width(
    world: Harness, size: str, seed: str, width: int, height: int
) -> None:
    """A Japanese keyboard types ０-９ and ｘ: the dialog reads them as what they mean."""
    aki, bob = world.member("aki"), world.member("bob")
    said = await world.discord.send_message(bob, world.general, "桜の木")
    opened = await world.discord.run_message_command(aki, said, "Imagine this", locale="ja")
    await opened.acknowledged(timeout=WAIT)
    modal = await opened.wait_for_modal()
    submitted = await world.discord.submit_modal(
        aki, modal, {"size": size, "seed": seed}, locale="ja"
    )
    await result_of(submitted)
    asked = sent(world)
    assert asked["seed"] == int(seed.translate(FULL_WIDTH_DIGITS))
    if size == "ｓｑｕａｒｅ":
        assert asked["size"] == "square"
    else:
        assert asked["image_size"] == {"width": width, "height": height}


FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


async def test_imagine_this_on_a_result_opens_its_edit_dialog(world: Harness) -> None:
    alice = world.member("alice")
    await private(world, world.moderator, "settings add-style", name="Ink", text="ink wash")
    result = await imagine(world, alice, "a heron", seed=5, style="Ink")
    opened = await world.discord.run_message_command(alice, result, "Imagine this")
    await opened.acknowledged(timeout=WAIT)
    modal = await opened.wait_for_modal()
    assert modal.custom_id == f"gen:edit-form:{generation_id(result)}"
    submitted = await world.discord.submit_modal(alice, modal, {"prompt": "a heron in rain"})
    await result_of(submitted)
    asked = sent(world)
    assert asked["prompt"] == "a heron in rain, ink wash" and asked["seed"] == 5  # style kept


async def test_imagine_this_on_a_picked_image_opens_that_images_edit_dialog(
    world: Harness,
) -> None:
    alice = world.member("alice")
    four = await imagine(world, alice, "four herons", count=4, seed=300, size="square")
    press = await world.discord.press_button(alice, four, label="U3")
    await press.acknowledged(timeout=WAIT)
    alone = await press.wait_for_original(lambda m: len(m.attachments) == 1, timeout=WAIT)
    opened = await world.discord.run_message_command(alice, alone, "Imagine this")
    await opened.acknowledged(timeout=WAIT)
    modal = await opened.wait_for_modal()
    assert modal.custom_id == f"gen:edit-form:{generation_id(four)}:3"
    seed = next(i for i in modal.inputs() if i["custom_id"] == "seed")
    assert seed["value"] == "302"  # image 3's own seed, kept
