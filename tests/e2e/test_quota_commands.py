"""Moderators set daily image limits with /quota; members see where they stand with /usage.

Every story is told through the Discord emulator: a member or moderator runs a
command and the test reads what they would see (ephemeral or public, the text,
the embeds, the files). The world is shared by the module, so every test uses
fresh members and roles and puts server-wide settings back when it is done.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import pytest_asyncio
from PIL import Image

from bot.store.base import MemberContext
from tests.e2e.harness import Harness
from tests.emulators.discord import (
    ClientRejected,
    InteractionRecord,
    Member,
    Message,
    Permission,
)
from tests.emulators.discord.interactions import CHANNEL_MESSAGE

pytestmark = pytest.mark.asyncio(loop_scope="module")

WAIT = 15.0
RESET_STAMP = re.compile(r"<t:\d+:R>")
GENERATION_NUMBER = re.compile(r"generation #(\d+)")


# -- steps -----------------------------------------------------------------------------------


async def run(world: Harness, member: Member, path: str, /, **options: Any) -> InteractionRecord:
    """``member`` runs ``/path`` in #general and the bot acknowledges it in time."""
    it = await world.discord.run_slash_command(member, world.general, path, **options)
    await it.acknowledged(timeout=WAIT)
    return it


async def private_reply(world: Harness, member: Member, path: str, /, **options: Any) -> Message:
    """The answer only ``member`` sees, sent as the immediate response (not a deferral)."""
    it = await run(world, member, path, **options)
    assert it.response_type == CHANNEL_MESSAGE, it
    reply = await it.wait_for_original(timeout=WAIT)
    assert reply.ephemeral, reply
    return reply


async def moderate(world: Harness, path: str, /, **options: Any) -> str:
    """The moderator runs a /quota command; returns the private confirmation they read."""
    return (await private_reply(world, world.moderator, path, **options)).text()


async def usage(world: Harness, member: Member) -> dict[str, Any]:
    """What ``member`` reads in /usage: the description and each field by name."""
    embed = (await private_reply(world, member, "usage")).embeds[0]
    return {"description": embed["description"], **fields(embed)}


def fields(embed: dict[str, Any]) -> dict[str, str]:
    return {f["name"]: f["value"] for f in embed.get("fields", [])}


async def imagine(world: Harness, member: Member, prompt: str, count: int = 1) -> Message:
    """``member`` makes ``count`` images in #general and gets them posted publicly."""
    it = await run(world, member, "imagine", prompt=prompt, count=count)
    assert not it.ephemeral
    return await it.wait_for_original(lambda m: len(m.attachments) == count, timeout=WAIT)


async def refused_imagine(world: Harness, member: Member, count: int = 1) -> str:
    """``member`` tries /imagine and is told no, privately and before any deferral."""
    before = len(world.api.requests)
    it = await run(world, member, "imagine", prompt="a lighthouse at dusk", count=count)
    assert [a.response_type for a in it.callback_attempts] == [CHANNEL_MESSAGE], it
    reply = await it.wait_for_original(timeout=WAIT)
    assert reply.ephemeral
    assert len(world.api.requests) == before, "a refused request reached the image API"
    return reply.text()


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


def generation_id(result: Message) -> int:
    match = GENERATION_NUMBER.search(result.embeds[0]["footer"]["text"])
    assert match, result.embeds[0]
    return int(match[1])


def assert_clean(world: Harness) -> None:
    assert world.discord.interaction_failures == []
    world.discord.assert_no_errors()


@contextmanager
def granted_to_everyone(world: Harness, command: str) -> Iterator[None]:
    """An admin lets everyone use ``command`` (Server Settings → Integrations).

    Discord then shows the command to members without ``default_member_permissions``
    and delivers their interactions. The emulator has no endpoint for per-command
    permission overrides, so this clears the requirement on the synced definition it
    uses to decide visibility, which is exactly what such an override amounts to.
    """
    synced = world.discord.commands.find(world.guild.id, command)
    assert synced is not None, f"/{command} is not synced"
    required = synced["default_member_permissions"]
    synced["default_member_permissions"] = None
    try:
        yield
    finally:
        synced["default_member_permissions"] = required


SettledWaiter = Callable[[int], Awaitable[None]]


@pytest.fixture
def settled(world: Harness, monkeypatch: pytest.MonkeyPatch) -> SettledWaiter:
    """Await the moment the bot has recorded a generation as delivered.

    The result reaches the member a moment before the usage log says "succeeded"; a
    test that reads the log waits for that write instead of sleeping.
    """
    store = world.running_bot.store
    original = store.complete
    done: defaultdict[int, asyncio.Event] = defaultdict(asyncio.Event)

    async def complete(generation_id: int, **kwargs: Any) -> None:
        try:
            await original(generation_id, **kwargs)
        finally:
            done[generation_id].set()

    monkeypatch.setattr(store, "complete", complete)

    async def wait(generation_id: int) -> None:
        await asyncio.wait_for(done[generation_id].wait(), timeout=WAIT)

    return wait


@pytest_asyncio.fixture(loop_scope="module", autouse=True)
async def judged(world: Harness) -> AsyncIterator[None]:
    """Every story ends with nobody having seen a failure and no invalid request made;
    server-wide settings a story changed are removed again for the next one."""
    yield
    assert_clean(world)
    policy = await world.running_bot.store.guild_policy(world.guild.id)
    if policy.default_limit is not None:
        await moderate(world, "quota set-default")
    if policy.server_budget is not None:
        await moderate(world, "quota set-server")


# -- /usage ------------------------------------------------------------------------------------


async def test_a_new_member_sees_the_bot_default_and_then_what_they_used(world: Harness) -> None:
    alice = world.member("alice")

    fresh = await usage(world, alice)
    assert "**0** of **20** used" in fresh["description"]
    assert "**20** left" in fresh["description"]
    assert RESET_STAMP.search(fresh["description"]), fresh
    assert fresh["Your limit comes from"] == "the bot's default"

    await imagine(world, alice, "two red foxes", count=2)

    after = await usage(world, alice)
    assert "**2** of **20** used" in after["description"]
    assert "**18** left" in after["description"]


# -- who gets which limit --------------------------------------------------------------------


async def test_limits_resolve_member_then_role_then_server_default(world: Harness) -> None:
    painters = world.guild.add_role("Painters")
    bob = world.member("bob", roles=(painters,))

    text = await moderate(world, "quota set-default", limit=5)
    assert "Set the server default to 5 images (was not set)" in text
    seen = await usage(world, bob)
    assert "of **5** used" in seen["description"]
    assert seen["Your limit comes from"] == "this server's default"

    await moderate(world, "quota set-role", role=painters, limit=8)
    seen = await usage(world, bob)
    assert "of **8** used" in seen["description"]
    assert seen["Your limit comes from"] == f"your role <@&{painters.id}>"

    await moderate(world, "quota set-user", member=bob, limit=2)
    seen = await usage(world, bob)
    assert "of **2** used" in seen["description"], "a member's own limit beats their role's"
    assert seen["Your limit comes from"] == "a limit a moderator set for you"

    text = await moderate(world, "quota set-user", member=bob)
    assert "Removed" in text and "(was 2 images)" in text
    assert "of **8** used" in (await usage(world, bob))["description"]

    await moderate(world, "quota set-role", role=painters)
    assert "of **5** used" in (await usage(world, bob))["description"]

    await moderate(world, "quota set-default")
    seen = await usage(world, bob)
    assert "of **20** used" in seen["description"]
    assert seen["Your limit comes from"] == "the bot's default"


async def test_the_highest_role_limit_wins(world: Harness) -> None:
    low, high = world.guild.add_role("Low"), world.guild.add_role("High")
    carol = world.member("carol", roles=(low, high))
    await moderate(world, "quota set-role", role=low, limit=3)
    await moderate(world, "quota set-role", role=high, limit=9)

    seen = await usage(world, carol)
    assert "of **9** used" in seen["description"]
    assert seen["Your limit comes from"] == f"your role <@&{high.id}>"


async def test_a_limit_of_zero_blocks_and_charges_nothing(world: Harness) -> None:
    dave = world.member("dave")
    text = await moderate(world, "quota set-user", member=dave, limit=0)
    assert "blocked (0)" in text

    refusal = await refused_imagine(world, dave)
    assert "not allowed" in refusal

    seen = await usage(world, dave)
    assert "not allowed" in seen["description"]
    assert await charged_today(world, dave) == 0


# -- refusals before deferring -------------------------------------------------------------


async def test_over_the_limit_imagine_is_refused_privately_with_the_numbers(
    world: Harness,
) -> None:
    erin = world.member("erin")
    await moderate(world, "quota set-user", member=erin, limit=3)
    await imagine(world, erin, "a small boat")

    too_many = await refused_imagine(world, erin, count=4)
    assert "2 images left today (limit 3)" in too_many
    assert "you asked for 4" in too_many
    assert "Lower `count` to 2" in too_many
    assert RESET_STAMP.search(too_many), too_many

    await imagine(world, erin, "two small boats", count=2)
    used_up = await refused_imagine(world, erin)
    assert "used all 3 images of your daily limit" in used_up
    assert RESET_STAMP.search(used_up), used_up
    assert "**3** of **3** used" in (await usage(world, erin))["description"]


async def test_a_moderator_can_clear_a_members_usage_for_today(world: Harness) -> None:
    frank = world.member("frank")
    await moderate(world, "quota set-user", member=frank, limit=2)
    await imagine(world, frank, "two green apples", count=2)
    await refused_imagine(world, frank)

    text = await moderate(world, "quota reset", member=frank)
    assert f"Cleared 2 images from <@{frank.id}>'s usage today." in text

    assert "**0** of **2** used" in (await usage(world, frank))["description"]
    await imagine(world, frank, "one more apple")
    seen_by_moderator = await usage(world, world.moderator)
    assert not any("spend" in name for name in seen_by_moderator), "no price: no money shown"


# -- what moderators can read ----------------------------------------------------------------


async def test_view_shows_the_policy_and_who_changed_what(world: Harness) -> None:
    helpers = world.guild.add_role("Helpers")
    gina = world.member("gina")
    await moderate(world, "quota set-default", limit=7)
    await moderate(world, "quota set-default", limit=6)
    await moderate(world, "quota set-role", role=helpers, limit=11)
    await moderate(world, "quota set-user", member=gina, limit=0)

    embed = (await private_reply(world, world.moderator, "quota view")).embeds[0]
    shown = fields(embed)
    assert shown["Default per member per day"] == "6 images"
    assert f"<@&{helpers.id}>: 11 images" in shown["Role limits (highest wins)"]
    assert f"<@{gina.id}>: blocked (0)" in shown["Member limits (override roles)"]
    changes = shown["Recent changes"].splitlines()
    mod = f"<@{world.moderator.id}>"
    assert changes[0].endswith(f"{mod} member limit of <@{gina.id}>: — → 0"), changes
    assert changes[1].endswith(f"{mod} role limit of <@&{helpers.id}>: — → 11"), changes
    assert changes[2].endswith(f"{mod} server default: 7 → 6"), changes
    assert all(RESET_STAMP.match(line) for line in changes[:3]), "each change says when"


async def test_view_of_a_member_shows_their_limit_and_its_source(world: Harness) -> None:
    artists = world.guild.add_role("Artists")
    hana = world.member("hana", roles=(artists,))
    await moderate(world, "quota set-role", role=artists, limit=4)
    await imagine(world, hana, "a paper crane")

    embed = (await private_reply(world, world.moderator, "quota view", member=hana)).embeds[0]
    assert f"<@{hana.id}>" in embed["description"]
    shown = fields(embed)
    assert shown["Daily limit"] == "4 images"
    assert (shown["Used today"], shown["Left"]) == ("1", "3")
    assert shown["Comes from"] == f"the role <@&{artists.id}>"
    assert RESET_STAMP.fullmatch(shown["Resets"])

    await moderate(world, "quota set-user", member=hana, limit=1)
    embed = (await private_reply(world, world.moderator, "quota view", member=hana)).embeds[0]
    assert fields(embed)["Comes from"] == "a limit a moderator set for them"


async def test_stats_show_totals_and_a_png_chart(world: Harness) -> None:
    ivan = world.member("ivan")
    await imagine(world, ivan, "three stars", count=3)

    it = await run(world, world.moderator, "quota stats", days=3)
    reply = await it.wait_for_followup(lambda m: bool(m.attachments), timeout=WAIT)
    assert reply.ephemeral
    embed = reply.embeds[0]
    assert embed["title"] == "Usage over the last 3 days"
    assert f"<@{ivan.id}>" in fields(embed)["Top members"]
    assert "$" not in str(embed), "no SIRAYA_PRICE_PER_MEGAPIXEL: no money shown"
    [chart] = reply.attachments
    assert embed["image"]["url"].endswith(f"/{chart.filename}"), "the chart shows in the embed"
    with Image.open(io.BytesIO(chart.data)) as image:
        assert image.format == "PNG"
        image.verify()


async def test_export_is_a_csv_of_the_generations_made(
    world: Harness, settled: SettledWaiter
) -> None:
    june = world.member("june")
    made: dict[int, tuple[str, int]] = {}
    for prompt, count in (("an old map", 1), ("=two maps, one torn", 2)):
        made[generation_id(await imagine(world, june, prompt, count=count))] = (prompt, count)
    for gid in made:
        await settled(gid)

    it = await run(world, world.moderator, "quota export")
    reply = await it.wait_for_followup(lambda m: bool(m.attachments), timeout=WAIT)
    assert reply.ephemeral
    [attachment] = reply.attachments
    assert attachment.filename.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(attachment.data.decode("utf-8-sig"))))
    mine = {int(r["id"]): r for r in rows if r["user_id"] == str(june.id)}
    assert set(mine) == set(made)
    for gid, (prompt, count) in made.items():
        row = mine[gid]
        assert row["status"] == "succeeded"
        assert (row["images_requested"], row["images_delivered"]) == (str(count), str(count))
        assert row["channel_id"] == str(world.general.id)
        assert row["prompt"].lstrip("'") == prompt
        assert row["seed"].isdigit()
    assert mine[max(made)]["prompt"].startswith("'="), "formulas are defused for spreadsheets"
    assert "cost_usd" not in rows[0], "no SIRAYA_PRICE_PER_MEGAPIXEL: no money shown"
    assert f"{len(rows)} generations from the last 30 days" in reply.text()


# -- who may moderate -------------------------------------------------------------------------


async def test_quota_and_settings_are_hidden_from_members_without_manage_server(
    world: Harness,
) -> None:
    for name in ("quota", "settings"):
        synced = world.discord.commands.find(world.guild.id, name)
        assert synced is not None
        assert synced["default_member_permissions"] == str(Permission.MANAGE_GUILD)
    kim = world.member("kim")
    with pytest.raises(ClientRejected, match="hidden"):
        await world.discord.run_slash_command(kim, world.general, "quota view")
    with pytest.raises(ClientRejected, match="hidden"):
        await world.discord.run_slash_command(kim, world.general, "settings show")


async def test_members_without_manage_server_are_refused_even_when_discord_delivers(
    world: Harness,
) -> None:
    kim = world.member("kim")
    store = world.running_bot.store
    before = await store.guild_policy(world.guild.id)
    audit_before = await store.audit_log(world.guild.id, limit=50)

    attempts: list[tuple[str, str, dict[str, Any]]] = [
        ("quota", "quota set-default", {"limit": 999}),
        ("quota", "quota set-user", {"member": kim, "limit": 999}),
        ("quota", "quota reset", {"member": kim}),
        ("quota", "quota export", {}),
        ("settings", "settings block-word", {"word": "kittens"}),
        ("settings", "settings allow-channel", {"channel": world.lounge}),
        ("settings", "settings nsfw-safety", {"state": "off"}),
    ]
    for group, path, options in attempts:
        with granted_to_everyone(world, group):
            reply = await private_reply(world, kim, path, **options)
        assert "You need the **Manage Server** permission" in reply.text(), path
        assert not reply.attachments

    assert await store.guild_policy(world.guild.id) == before
    assert await store.audit_log(world.guild.id, limit=50) == audit_before
