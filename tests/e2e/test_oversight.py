"""What moderators and owners oversee: the moderation log, the spend, and retention.

Told through the Discord emulator with a price set (SIRAYA_PRICE_PER_MEGAPIXEL=0.025), as an
owner who wants to see the money would run the bot. Every dollar amount is checked
against Decimal arithmetic on the sizes and counts the members asked for.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
import pytest_asyncio
from PIL import Image

from bot.i18n import speech
from bot.store.base import MemberContext
from tests.core.conftest import params
from tests.e2e.harness import Harness, start_harness
from tests.emulators.discord import Channel, InteractionRecord, Member, Message, Permission
from tests.emulators.discord.interactions import CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE
from tests.emulators.discord.markdown import constructs, rendered

pytestmark = pytest.mark.asyncio(loop_scope="module")

WAIT = 15.0
PRICE = Decimal("0.025")
CENT = Decimal("0.01")
GENERATION_NUMBER = re.compile(r"generation #(\d+)")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    harness = await start_harness(
        tmp_path_factory.mktemp("bot"), {"SIRAYA_PRICE_PER_MEGAPIXEL": str(PRICE)}
    )
    try:
        yield harness
    finally:
        await harness.close()


SETTLED: defaultdict[int, asyncio.Event] = defaultdict(asyncio.Event)


@pytest.fixture(autouse=True)
def watch_settlements(world: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """Know the moment the bot records a generation as delivered, instead of sleeping."""
    store = world.running_bot.store
    original = store.complete

    async def complete(generation_id: int, **kwargs: Any) -> None:
        try:
            await original(generation_id, **kwargs)
        finally:
            SETTLED[generation_id].set()

    monkeypatch.setattr(store, "complete", complete)


@pytest_asyncio.fixture(loop_scope="module")
async def log_channel(world: Harness) -> AsyncIterator[Channel]:
    """A fresh #mod-log, chosen as the log by a moderator; the log is off again afterwards."""
    channel = world.guild.add_channel("mod-log")
    text = await moderate(world, "settings log-channel", channel=channel)
    assert f"<#{channel.id}>" in text and "also be posted" in text, text
    yield channel
    await world.running_bot.moderation_log.wait_idle()
    await world.running_bot.store.set_log_channel(world.guild.id, None, actor_id=world.moderator.id)


# -- steps -----------------------------------------------------------------------------------


async def run(
    world: Harness, member: Member, path: str, /, where: Channel | None = None, **options: Any
) -> InteractionRecord:
    it = await world.discord.run_slash_command(member, where or world.general, path, **options)
    await it.acknowledged(timeout=WAIT)
    return it


async def private_reply(world: Harness, member: Member, path: str, /, **options: Any) -> Message:
    it = await run(world, member, path, **options)
    assert it.response_type == CHANNEL_MESSAGE, it
    reply = await it.wait_for_original(timeout=WAIT)
    assert reply.ephemeral, reply
    return reply


async def moderate(world: Harness, path: str, /, **options: Any) -> str:
    return (await private_reply(world, world.moderator, path, **options)).text()


async def imagine(world: Harness, member: Member, prompt: str, **options: Any) -> Message:
    """``member`` gets a result in #general; returns it once the job is settled."""
    it = await run(world, member, "imagine", prompt=prompt, **options)
    assert it.response_type == DEFERRED_CHANNEL_MESSAGE, it
    count = options.get("count", 1)
    result = await it.wait_for_original(lambda m: len(m.attachments) == count, timeout=WAIT)
    # The result reaches Discord a moment before the usage row says it was delivered.
    await asyncio.wait_for(SETTLED[generation_id(result)].wait(), timeout=WAIT)
    return result


def generation_id(result: Message) -> int:
    match = GENERATION_NUMBER.search(result.embeds[0]["footer"]["text"])
    assert match is not None
    return int(match.group(1))


def fields(embed: dict[str, Any]) -> dict[str, str]:
    return {f["name"]: f["value"] for f in embed.get("fields", [])}


def cost(width: int, height: int, images: int) -> Decimal:
    return Decimal(width * height) / 10**6 * images * PRICE


def shown(amount: Decimal) -> str:
    return f"${amount.quantize(CENT, rounding=ROUND_HALF_UP)}"


async def stats(world: Harness, days: int = 1) -> tuple[dict[str, Any], bytes]:
    it = await run(world, world.moderator, "quota stats", days=days)
    reply = await it.wait_for_followup(lambda m: bool(m.attachments), timeout=WAIT)
    assert reply.ephemeral
    return reply.embeds[0], reply.attachments[0].data


async def export(world: Harness, days: int = 1) -> list[dict[str, str]]:
    it = await run(world, world.moderator, "quota export", days=days)
    reply = await it.wait_for_followup(lambda m: bool(m.attachments), timeout=WAIT)
    data = reply.attachments[0].data.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(data)))


# -- the moderation log ----------------------------------------------------------------------


async def test_each_generation_is_logged_with_a_jump_link_and_no_ping(
    world: Harness, log_channel: Channel
) -> None:
    ada = world.member("ada")
    prompt = "a lighthouse at dusk, **glowing** [like](https://example.invalid) @everyone"
    result = await imagine(world, ada, prompt, size="square_hd", seed=42)

    entry = await world.discord.wait_for_message(log_channel, timeout=WAIT)
    assert f"<@{ada.id}>" in entry.content and f"<#{world.general.id}>" in entry.content
    assert entry.mentions == [] and not entry.mention_everyone, "nobody is pinged"
    [embed] = entry.embeds
    jump = f"https://discord.com/channels/{world.guild.id}/{world.general.id}/{result.id}"
    shown_prompt, link = embed["description"].rsplit("\n\n", 1)
    assert rendered(shown_prompt) == prompt, "the prompt reads exactly as typed"
    assert constructs(shown_prompt) == [], "no markdown, link or mention of its own"
    assert link == f"[Jump to the result]({jump})", embed["description"]
    info = fields(embed)
    assert "1024×1024" in info["Size"] and info["Seed"] == "`42`"
    assert info["Images"] == "1 of 1"
    [thumbnail] = entry.attachments
    assert embed["thumbnail"]["url"].endswith(f"/{thumbnail.filename}")
    with Image.open(io.BytesIO(thumbnail.data)) as image:
        assert max(image.size) <= 320, image.size
    assert not world.discord.messages(log_channel)[0].ephemeral
    assert ada.id not in [m.id for m in entry.mentions]
    world.discord.assert_no_errors()


async def test_an_image_from_an_nsfw_channel_is_not_copied_into_a_log_that_is_not(
    world: Harness, log_channel: Channel
) -> None:
    ada = world.member("ada")
    await imagine(world, ada, "a moonlit garden", where=world.lounge)

    entry = await world.discord.wait_for_message(log_channel, timeout=WAIT)
    assert f"<#{world.lounge.id}>" in entry.content
    assert entry.attachments == [], "no copy of the image in a channel not marked NSFW"
    [embed] = entry.embeds
    assert "thumbnail" not in embed
    assert "age-restricted" in fields(embed)["Preview"]
    assert "[Jump to the result](" in embed["description"]

    # A log the moderators marked NSFW shows it as usual (once the bot has seen the change).
    updated = asyncio.ensure_future(
        world.running_bot.wait_for(
            "guild_channel_update", check=lambda _, after: after.id == log_channel.id
        )
    )
    log_channel.set_nsfw(True)
    await asyncio.wait_for(updated, timeout=WAIT)
    await imagine(world, ada, "a moonlit garden, again", where=world.lounge)
    later = await world.discord.wait_for_message(
        log_channel, lambda m: "again" in m.embeds[0]["description"], timeout=WAIT
    )
    assert len(later.attachments) == 1 and "Preview" not in fields(later.embeds[0])
    world.discord.assert_no_errors()


async def test_refusals_by_the_servers_rules_are_logged(
    world: Harness, log_channel: Channel
) -> None:
    store = world.running_bot.store
    await store.block_word(world.guild.id, "volcano", actor_id=world.moderator.id)
    try:
        bea = world.member("bea")
        refused = await private_reply(world, bea, "imagine", prompt="an erupting volcano")
        assert "does not allow" in refused.text()
        entry = await world.discord.wait_for_message(log_channel, timeout=WAIT)
    finally:
        await store.unblock_word(world.guild.id, "volcano", actor_id=world.moderator.id)
    assert f"<@{bea.id}> was refused" in entry.content and entry.mentions == []
    [embed] = entry.embeds
    assert embed["description"] == "an erupting volcano"
    assert "`volcano`" in fields(embed)["Why"]


async def test_without_a_log_channel_nothing_is_logged(world: Harness) -> None:
    channel = world.guild.add_channel("old-log")
    await moderate(world, "settings log-channel", channel=channel)
    text = await moderate(world, "settings log-channel")
    assert "off" in text and f"<#{channel.id}>" in text
    settings = (await private_reply(world, world.moderator, "settings show")).embeds[0]
    assert fields(settings)["Moderation log"] == "off"

    await imagine(world, world.member("cid"), "a quiet pond")
    await world.running_bot.moderation_log.wait_idle()
    assert world.discord.messages(channel) == []


async def test_a_channel_the_bot_cannot_post_in_is_refused_with_the_reason(
    world: Harness,
) -> None:
    hidden = world.guild.add_channel("staff-only")
    hidden.set_permissions(world.guild.me, deny=Permission.SEND_MESSAGES)
    text = await moderate(world, "settings log-channel", channel=hidden)
    assert "can't post the log" in text and "Send Messages" in text and "Nothing changed" in text
    assert (await world.running_bot.store.guild_policy(world.guild.id)).log_channel_id is None

    no_files = world.guild.add_channel("no-files")
    no_files.set_permissions(world.guild.me, deny=Permission.ATTACH_FILES)
    text = await moderate(world, "settings log-channel", channel=no_files)
    assert "Attach Files" in text and "Send Messages" not in text

    plain = world.guild.add_channel("text-only")
    plain.set_permissions(world.guild.me, deny=Permission.EMBED_LINKS | Permission.ATTACH_FILES)
    text = await moderate(world, "settings log-channel", channel=plain)
    assert "I'm missing **Embed Links and Attach Files** there" in text, "as English lists"
    japanese = await private_reply(
        world, world.moderator, "settings log-channel", channel=plain, locale="ja"
    )
    ja = speech("ja")
    assert ja.gettext("Embed Links") != "Embed Links", "the catalog names it in Japanese"
    names = f"{ja.gettext('Embed Links')}、{ja.gettext('Attach Files')}"
    assert f"**{names}**" in japanese.text(), "listed as Japanese lists: 、"


async def test_a_log_that_fails_never_touches_the_members_result(
    world: Harness, log_channel: Channel
) -> None:
    log_channel.set_permissions(world.guild.me, deny=Permission.SEND_MESSAGES)  # revoked later
    dan = world.member("dan")
    result = await imagine(world, dan, "a red kite")
    await world.running_bot.moderation_log.wait_idle()

    assert len(result.attachments) == 1 and not result.ephemeral
    record = await world.running_bot.store.get_generation(generation_id(result))
    assert record is not None and record.delivered == 1
    assert world.discord.messages(log_channel) == []
    assert world.discord.interaction_failures == []
    assert {(r.status, r.path) for r in world.discord.errors} == {
        (403, f"/api/v10/channels/{log_channel.id}/messages")
    }, "the only refusal is the log's, in the log channel"


# -- the spend ---------------------------------------------------------------------------------


async def test_spend_is_exact_for_mixed_sizes_and_counts_and_stats_agree_with_export(
    world: Harness,
) -> None:
    eve, fay = world.member("eve"), world.member("fay")
    before, _ = await stats(world)
    made = [
        (eve, {"size": "landscape_4_3", "count": 3}, (1024, 768, 3)),
        (eve, {"width": 1008, "height": 1008}, (1008, 1008, 1)),
        (fay, {"size": "portrait_16_9", "count": 2}, (576, 1024, 2)),
        (fay, {"width": 1360, "height": 768, "count": 4}, (1360, 768, 4)),
    ]
    for member, options, _ in made:
        await imagine(world, member, "a brass orrery", **options)

    eve_cost = cost(*made[0][2]) + cost(*made[1][2])
    fay_cost = cost(*made[2][2]) + cost(*made[3][2])
    rows = await export(world)
    mine = [r for r in rows if r["user_id"] in (str(eve.id), str(fay.id))]
    assert sorted(Decimal(r["cost_usd"]) for r in mine) == sorted(cost(*o) for _, _, o in made)
    everyone = sum(Decimal(r["cost_usd"] or 0) for r in rows)

    embed, _ = await stats(world)
    assert f"Estimated spend: **{shown(everyone)}**" in embed["description"]
    today = speech("en-US").date(datetime.now(UTC).date())  # the moderator's short form
    per_day = fields(embed)["Per day (UTC)"]
    assert f"`{today}`" in per_day and per_day.endswith(f"· {shown(everyone)}"), per_day
    ranking = fields(embed)["Top members"]
    assert f"<@{eve.id}> 4 images · {shown(eve_cost)}" in ranking, ranking
    assert f"<@{fay.id}> 6 images · {shown(fay_cost)}" in ranking, ranking
    assert before["description"] != embed["description"]

    usage = (await private_reply(world, world.moderator, "usage")).embeds[0]
    assert fields(usage)["Server spend today (estimated)"].startswith(shown(everyone))
    member_view = (await private_reply(world, eve, "usage")).embeds[0]
    assert "Server spend today (estimated)" not in fields(member_view), "members see no money"


async def test_the_chart_shows_the_spend_on_an_opaque_card(world: Harness) -> None:
    await imagine(world, world.member("gus"), "a paper boat")
    _, chart = await stats(world, days=7)
    with Image.open(io.BytesIO(chart)) as image:
        rgba = image.convert("RGBA")
    assert rgba.getextrema()[3] == (255, 255), "opaque: reads the same on dark and light themes"
    colours = {rgba.getpixel((x, y))[:3] for x in range(rgba.width) for y in range(rgba.height)}
    assert (0x57, 0xF2, 0x87) in colours, "the spend line is drawn"


# -- retention -----------------------------------------------------------------------------------


async def test_pruning_keeps_todays_quota_and_older_statistics(world: Harness) -> None:
    bot = world.running_bot
    store = bot.store
    hal = world.member("hal")
    long_ago = datetime.now(UTC) - timedelta(days=200)
    context = MemberContext(world.guild.id, world.general.id, hal.id)
    for day in range(3):  # what hal made 200 days ago, as the bot recorded it then
        at = long_ago + timedelta(days=day)
        old = await store.reserve(context, params(2), bot_default_limit=20, now=at)
        await store.complete(old.generation_id, delivered=2, latency_ms=5, now=at)
    await imagine(world, hal, "a new moon", count=2)
    used_before = await world.used_today(hal)
    stats_before, chart_before = await stats(world, days=366)

    report = await bot.retention.run_once()

    assert report.generations >= 3
    stats_after, chart_after = await stats(world, days=366)
    for embed in (stats_before, stats_after):
        embed.pop("image")  # the chart's URL names its upload
    assert stats_after == stats_before, "the same totals, per day, top members and spend"
    assert chart_after == chart_before
    assert await world.used_today(hal) == used_before == 2
    kept = [r for r in await export(world, days=366) if r["user_id"] == str(hal.id)]
    assert len(kept) == 1, "only today's row is still in the log"
    assert f"<@{hal.id}> 8 images" in fields(stats_after)["Top members"]
