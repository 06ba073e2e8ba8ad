"""A member types /imagine and sees their image, with the settings that made it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.harness import Harness
from tests.emulators.discord import ClientRejected, Member, Message

pytestmark = pytest.mark.asyncio(loop_scope="module")


def fields_of(message: Message) -> dict[str, str]:
    return {f["name"]: f["value"] for f in message.embeds[0]["fields"]}


def sent_to_api(world: Harness, prompt: str) -> dict[str, Any]:
    """The last generation request the image API received for ``prompt``."""
    bodies = [r.json for r in world.api.requests if r.json and r.json.get("prompt") == prompt]
    assert bodies, f"the API never received {prompt!r}"
    body: dict[str, Any] = bodies[-1]
    return body


async def imagine(world: Harness, member: Member, **options: Any) -> Message:
    """``member`` runs /imagine in #general and waits for the message with the images."""
    channel = options.pop("channel", world.general)
    it = await world.discord.run_slash_command(member, channel, "imagine", **options)
    await it.acknowledged(timeout=3)
    assert not it.ephemeral, "a result is for the whole channel to see"
    return await it.wait_for_original(lambda m: bool(m.attachments), timeout=15)


async def test_a_member_gets_their_image_with_its_settings(world: Harness) -> None:
    alice = world.member("alice")
    it = await world.discord.run_slash_command(alice, world.general, "imagine", prompt="a red fox")
    await it.acknowledged(timeout=3)
    assert not it.ephemeral
    message = await it.wait_for_original(lambda m: bool(m.attachments), timeout=10)
    assert len(message.attachments) == 1
    image = message.attachments[0]
    assert image.content_type == "image/png"
    assert (image.width, image.height) == (1024, 768)
    embed = message.embeds[0]
    assert "a red fox" in embed["description"]
    assert embed["image"]["url"] == image.url, "the embed shows the uploaded image"
    assert embed["author"]["name"] == f"Requested by {alice.name}"
    fields = fields_of(message)
    assert fields["Size"] == "landscape_4_3 (1024×768)"
    assert fields["Steps"] == "28"
    assert fields["Guidance"] == "4.5"
    assert fields["Acceleration"] == "regular"
    assert fields["Time"].endswith(" s")
    seed = fields["Seed"].strip("`")
    assert seed.isdigit(), "the seed is shown even when the member did not choose one"
    assert sent_to_api(world, "a red fox")["seed"] == int(seed)
    assert message.content == "", "the progress line is gone once the image is there"
    assert await world.used_today(alice) == 1
    assert world.discord.interaction_failures == []
    world.discord.assert_no_errors()


async def test_every_chosen_setting_is_sent_and_shown(world: Harness) -> None:
    bob = world.member("bob")
    message = await imagine(
        world,
        bob,
        prompt="a lighthouse at dusk",
        size="square",
        steps=12,
        guidance=7.5,
        acceleration="high",
        seed=123456,
    )
    assert (message.attachments[0].width, message.attachments[0].height) == (512, 512)
    fields = fields_of(message)
    assert fields["Size"] == "square (512×512)"
    assert fields["Steps"] == "12"
    assert fields["Guidance"] == "7.5"
    assert fields["Acceleration"] == "high"
    assert fields["Seed"] == "`123456`"
    body = sent_to_api(world, "a lighthouse at dusk")
    assert body["size"] == "square"
    assert body["num_inference_steps"] == 12
    assert body["guidance_scale"] == 7.5
    assert body["acceleration"] == "high"
    assert body["seed"] == 123456
    world.discord.assert_no_errors()


async def test_a_custom_size_gives_an_image_of_exactly_that_size(world: Harness) -> None:
    carol = world.member("carol")
    message = await imagine(world, carol, prompt="a tall tower", width=512, height=896)
    image = message.attachments[0]
    assert (image.width, image.height) == (512, 896)
    assert fields_of(message)["Size"] == "custom 512×896"
    assert sent_to_api(world, "a tall tower")["image_size"] == {"width": 512, "height": 896}
    world.discord.assert_no_errors()


async def test_four_images_arrive_together_as_one_gallery(world: Harness) -> None:
    dave = world.member("dave")
    message = await imagine(world, dave, prompt="four kittens", count=4, size="square")
    assert len(message.attachments) == 4, "count=4 is one message with four images"
    assert len({a.data for a in message.attachments}) == 4, "four different pictures"
    assert len(message.embeds) == 4
    gallery = {e.get("url") for e in message.embeds}
    assert len(gallery) == 1 and None not in gallery, "Discord groups embeds sharing a url"
    shown = [e["image"]["url"] for e in message.embeds]
    assert shown == [a.url for a in message.attachments], "each embed shows one of the images"
    asked = [r.json for r in world.api.requests if r.json["prompt"] == "four kittens"]
    assert [body["n"] for body in asked] == [1, 1, 1, 1], "each image is its own request"
    seeds = sorted(body["seed"] for body in asked)
    assert seeds == list(range(seeds[0], seeds[0] + 4)), "seeds s, s+1, s+2, s+3"
    assert fields_of(message)["Seeds"] == " · ".join(
        f"U{k}\u00a0`{seed}`" for k, seed in enumerate(seeds, start=1)
    ), "each image's seed, named as its U button"
    others = [m for m in world.discord.messages(world.general) if m.id != message.id]
    assert not any("four kittens" in m.text() for m in others), "no second message"
    assert await world.used_today(dave) == 4
    world.discord.assert_no_errors()


async def test_the_same_seed_and_prompt_give_the_same_image(world: Harness) -> None:
    erin = world.member("erin")
    first = await imagine(world, erin, prompt="a glass orb", seed=777, size="square")
    again = await imagine(world, erin, prompt="a glass orb", seed=777, size="square")
    other = await imagine(world, erin, prompt="a glass orb", seed=778, size="square")
    assert first.id != again.id
    assert first.attachments[0].data == again.attachments[0].data
    assert fields_of(first)["Seed"] == fields_of(again)["Seed"] == "`777`"
    assert other.attachments[0].data != first.attachments[0].data


async def test_a_random_seed_shown_in_the_embed_reproduces_the_image(world: Harness) -> None:
    frank = world.member("frank")
    first = await imagine(world, frank, prompt="a paper boat", size="square")
    seed = int(fields_of(first)["Seed"].strip("`"))
    assert sent_to_api(world, "a paper boat")["seed"] == seed
    again = await imagine(world, frank, prompt="a paper boat", size="square", seed=seed)
    assert again.attachments[0].data == first.attachments[0].data


async def test_outside_nsfw_channels_the_safety_checker_is_on(world: Harness) -> None:
    gina = world.member("gina")
    message = await imagine(world, gina, prompt="a quiet meadow", size="square")
    assert sent_to_api(world, "a quiet meadow")["enable_safety_checker"] is True
    assert fields_of(message)["Safety checker"] == "on"


async def test_nsfw_channels_follow_the_server_setting(world: Harness) -> None:
    assert world.settings.nsfw_safety_checker is True  # the owner's default
    hana = world.member("hana")
    await imagine(world, hana, prompt="lounge default", size="square", channel=world.lounge)
    assert sent_to_api(world, "lounge default")["enable_safety_checker"] is True

    it = await world.discord.run_slash_command(
        world.moderator, world.general, "settings nsfw-safety", state="off"
    )
    reply = await it.wait_for_original(timeout=10)
    assert reply.ephemeral and "off" in reply.content
    try:
        message = await imagine(
            world, hana, prompt="lounge relaxed", size="square", channel=world.lounge
        )
        assert sent_to_api(world, "lounge relaxed")["enable_safety_checker"] is False
        assert fields_of(message)["Safety checker"] == "off"
        await imagine(world, hana, prompt="general strict", size="square")
        assert sent_to_api(world, "general strict")["enable_safety_checker"] is True
    finally:
        it = await world.discord.run_slash_command(
            world.moderator, world.general, "settings nsfw-safety", state="on"
        )
        await it.wait_for_original(timeout=10)
    world.discord.assert_no_errors()


async def test_ranges_are_declared_to_discord_so_the_client_enforces_them(world: Harness) -> None:
    ivan = world.member("ivan")
    refused: list[dict[str, Any]] = [
        {"steps": 51},
        {"steps": 0},
        {"count": 5},
        {"guidance": 20.5},
        {"width": 4096, "height": 512},
        {"size": "giant"},
        {"acceleration": "ludicrous"},
        {"prompt": "x" * 1001},
    ]
    for options in refused:
        with pytest.raises(ClientRejected):
            await world.discord.run_slash_command(
                ivan, world.general, "imagine", **{"prompt": "a cat", **options}
            )
    assert await world.used_today(ivan) == 0
