"""Personal use (issue 12): members generate in the bot's DM, group DMs and servers
without the bot, only where the owner allowed it, on one personal quota.

Each module-level world runs the real bot with one PERSONAL_USE setting. discord.py's API
base is process-wide, so each world's tests come after the previous world's, in file order.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
import pytest_asyncio

from bot.config import PersonalUse
from bot.i18n import speech
from bot.policy.places import NO_SERVER
from bot.store.base import MemberContext
from cogs.common import messages
from tests.e2e.harness import Harness, start_harness
from tests.emulators.discord import ClientRejected, InteractionRecord, Member, Message
from tests.emulators.siraya import Fault

pytestmark = pytest.mark.asyncio(loop_scope="module")

NOT_CHARGED = "You were not charged for it."


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def anywhere(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    harness = await start_harness(
        tmp_path_factory.mktemp("everyone"),
        {
            "PERSONAL_USE": "everyone",
            "PERSONAL_DAILY_LIMIT": "3",
            "COMMAND_GUILD_IDS": "",
            "MAX_JOBS_PER_USER": "10",
        },
    )
    await harness.discord.wait_until_commands_synced(None)
    try:
        yield harness
    finally:
        await harness.close()


@pytest.fixture(autouse=True)
def fresh_places(request: pytest.FixtureRequest) -> None:
    """Each test judges only its own requests (as conftest's ``fresh_records`` does)."""
    for name in ("anywhere", "members_only", "servers_only", "guild_synced"):
        if name in request.fixturenames:
            harness: Harness = request.getfixturevalue(name)
            harness.discord.clear_records()


def has_image(message: Message) -> bool:
    return bool(message.attachments)


async def personal_used(world: Harness, member: Member) -> int:
    bot = world.running_bot
    summary = await bot.store.usage(
        MemberContext(guild_id=NO_SERVER, channel_id=0, user_id=member.id),
        bot_default_limit=bot.settings.personal_daily_limit,
    )
    return summary.used


async def imagine(world: Harness, who: Member, channel: object, prompt: str) -> InteractionRecord:
    it = await world.discord.run_slash_command(who, channel, "imagine", prompt=prompt)  # type: ignore[arg-type]
    await it.acknowledged(timeout=3)
    return it


async def test_the_bots_dm_delivers_and_charges_the_personal_quota(anywhere: Harness) -> None:
    member = anywhere.member("dm-fan")
    me, dm = anywhere.discord.dm_with_bot(member)
    it = await imagine(anywhere, me, dm, "a lighthouse at dusk")
    result = await it.wait_for_original(has_image, timeout=15)
    assert not result.ephemeral
    assert await personal_used(anywhere, member) == 1
    assert await anywhere.used_today(member) == 0, "the server's quota is untouched"
    anywhere.discord.assert_no_errors()


async def test_a_group_dm_delivers_through_the_interaction_only(anywhere: Harness) -> None:
    member = anywhere.member("grouper")
    friend = anywhere.member("friend")
    anywhere.discord.install_for_user(member)
    me, group = anywhere.discord.group_dm(member, friend)
    it = await imagine(anywhere, me, group, "two friends on a hill")
    result = await it.wait_for_original(has_image, timeout=15)
    assert not result.ephemeral
    assert await personal_used(anywhere, member) == 1
    anywhere.discord.assert_no_errors()  # never a 403 from trying the bot token there


async def test_a_server_without_the_bot_delivers_and_shares_the_personal_quota(
    anywhere: Harness,
) -> None:
    member = anywhere.member("traveller")
    anywhere.discord.install_for_user(member)
    there, chat = anywhere.discord.server_without_bot(member)
    me, dm = anywhere.discord.dm_with_bot(member)
    first = await imagine(anywhere, there, chat, "a market far away")
    await first.wait_for_original(has_image, timeout=15)
    second = await imagine(anywhere, me, dm, "a market at home")
    await second.wait_for_original(has_image, timeout=15)
    assert await personal_used(anywhere, member) == 2, "one quota across personal places"
    usage = await anywhere.discord.run_slash_command(there, chat, "usage")
    shown = await usage.wait_for_original(timeout=5)
    assert shown.ephemeral
    assert "**2** of **3** used" in shown.embeds[0]["description"]
    assert "personal quota" in shown.embeds[0]["fields"][0]["value"]
    anywhere.discord.assert_no_errors()


async def test_the_personal_quota_holds_under_a_burst(anywhere: Harness) -> None:
    member = anywhere.member("greedy")
    me, dm = anywhere.discord.dm_with_bot(member)
    runs = [
        await anywhere.discord.run_slash_command(me, dm, "imagine", prompt=f"burst {n}")
        for n in range(5)
    ]
    await asyncio.gather(*(it.acknowledged(timeout=5) for it in runs))
    await anywhere.running_bot.flow.wait_until_idle()
    delivered = [it for it in runs if it.original is not None and has_image(it.original)]
    refused = [it for it in runs if it.ephemeral]
    assert len(delivered) == 3 and len(refused) == 2, "exactly the personal limit, not more"
    assert await personal_used(anywhere, member) == 3


async def test_in_the_bots_own_server_its_rules_apply_even_via_a_user_install(
    anywhere: Harness,
) -> None:
    member = anywhere.member("local")
    anywhere.discord.install_for_user(member)
    it = await imagine(anywhere, member, anywhere.general, "a local view")
    await it.wait_for_original(has_image, timeout=15)
    assert await anywhere.used_today(member) == 1
    assert await personal_used(anywhere, member) == 0


async def test_the_providers_refusal_in_a_group_dm_is_private(anywhere: Harness) -> None:
    member = anywhere.member("edgy")
    anywhere.discord.install_for_user(member)
    me, group = anywhere.discord.group_dm(member, anywhere.member("onlooker"))
    anywhere.api.fail_next(Fault.status(422))
    it = await imagine(anywhere, me, group, "something forbidden")
    told = await it.wait_for_followup(lambda m: NOT_CHARGED in m.content, timeout=15)
    assert told.ephemeral and "refused this prompt" in told.content
    assert it.original is not None and it.original.deleted
    assert await personal_used(anywhere, member) == 0
    anywhere.discord.assert_no_errors()


async def test_buttons_in_a_dm_work_after_a_restart(anywhere: Harness) -> None:
    member = anywhere.member("returning")
    me, dm = anywhere.discord.dm_with_bot(member)
    it = await imagine(anywhere, me, dm, "an old castle")
    result = await it.wait_for_original(has_image, timeout=15)
    await anywhere.restart_bot()
    again = await anywhere.discord.press_button(me, result, label="Re-roll")
    await again.acknowledged(timeout=5)
    rerolled = await again.wait_for_original(has_image, timeout=15)
    assert rerolled.id != result.id
    info = await anywhere.discord.press_button(me, rerolled, label="Info")
    assert (await info.wait_for_original(timeout=5)).ephemeral
    assert await personal_used(anywhere, member) == 2
    anywhere.discord.assert_no_errors()


async def test_moderator_commands_stay_in_servers(anywhere: Harness) -> None:
    member = anywhere.member("curious")
    me, dm = anywhere.discord.dm_with_bot(member)
    with pytest.raises(ClientRejected):
        await anywhere.discord.run_slash_command(me, dm, "settings", "show")


# -- /preferences and /history in personal places (issues 12 and 13) -------------------------


async def answer(
    world: Harness, who: Member, channel: object, path: str, **options: Any
) -> Message:
    """A command's private reply (``path`` may name a subcommand: ``"preferences show"``)."""
    it = await world.discord.run_slash_command(who, channel, path, **options)  # type: ignore[arg-type]
    reply = await it.wait_for_original(timeout=5)
    assert reply.ephemeral, reply
    return reply


def asked(world: Harness) -> tuple[str, int]:
    """The size and steps the image API was last asked for."""
    sent = world.api.requests[-1].json
    return sent["size"], sent["num_inference_steps"]


async def test_preferences_in_personal_places_are_a_set_of_their_own(anywhere: Harness) -> None:
    member = anywhere.member("settler")
    anywhere.discord.install_for_user(member)
    me, dm = anywhere.discord.dm_with_bot(member)
    there, chat = anywhere.discord.server_without_bot(member)
    await answer(anywhere, member, anywhere.general, "preferences set", steps=35)
    saved = await answer(anywhere, me, dm, "preferences set", size="square_hd", steps=12)
    assert "saved" in saved.text() and "12" in saved.text()

    it = await imagine(anywhere, me, dm, "a personal harbour")
    await it.wait_for_original(has_image, timeout=15)
    assert asked(anywhere) == ("square_hd", 12), "the personal set applies in the DM"
    it = await imagine(anywhere, member, anywhere.general, "a server harbour")
    await it.wait_for_original(has_image, timeout=15)
    assert asked(anywhere) == ("landscape_4_3", 35), "the server's set applies there"

    # A server without the bot is a personal place too: the same personal set.
    shown = await answer(anywhere, there, chat, "preferences show")
    assert "square_hd" in shown.text() and "35" not in shown.text()
    reset = await answer(anywhere, there, chat, "preferences reset")
    assert "cleared" in reset.text()
    assert "35" in (await answer(anywhere, member, anywhere.general, "preferences show")).text()
    anywhere.discord.assert_no_errors()


async def test_styles_are_refused_privately_in_personal_places(anywhere: Harness) -> None:
    member = anywhere.member("stylish")
    me, dm = anywhere.discord.dm_with_bot(member)
    store = anywhere.running_bot.store
    await store.add_style(anywhere.guild.id, "Ink", "ink wash", actor_id=anywhere.moderator.id)
    try:
        calls_before = len(anywhere.api.requests)
        refused = await answer(anywhere, me, dm, "imagine", prompt="a crane", style="Ink")
        assert "Styles belong to a server" in refused.text()
        refused = await answer(anywhere, me, dm, "preferences set", style="Ink")
        assert "Styles belong to a server" in refused.text()
        assert "not set" in (await answer(anywhere, me, dm, "preferences show")).text()
        typing = await anywhere.discord.autocomplete(
            me, dm, "imagine", focused="style", prompt="a crane", style="in"
        )
        await typing.acknowledged(timeout=5)
        assert typing.response_type == 8 and typing.choices == [], "no server's styles offered"
        assert len(anywhere.api.requests) == calls_before, "nothing was generated"
    finally:
        await store.remove_style(anywhere.guild.id, "Ink", actor_id=anywhere.moderator.id)
    anywhere.discord.assert_no_errors()


async def test_history_in_a_dm_shows_only_the_members_personal_images(
    anywhere: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    member, other = anywhere.member("diarist"), anywhere.member("neighbour")
    anywhere.discord.install_for_user(member)
    me, dm = anywhere.discord.dm_with_bot(member)
    them, their_dm = anywhere.discord.dm_with_bot(other)
    in_group, group = anywhere.discord.group_dm(member, other)
    made = {}
    for who, channel, prompt in [
        (member, anywhere.general, "server picture"),
        (them, their_dm, "neighbour's picture"),
        (in_group, group, "group picture"),
        (me, dm, "dm picture"),
    ]:
        it = await imagine(anywhere, who, channel, prompt)
        made[prompt] = await it.wait_for_original(has_image, timeout=15)
    await anywhere.running_bot.flow.wait_until_idle()  # the last charge lands after its post

    page = await answer(anywhere, me, dm, "history")
    text = page.text()
    assert "dm picture" in text and "group picture" in text
    assert "server picture" not in text and "neighbour" not in text
    assert made["dm picture"].jump_url in text and "/@me/" in made["dm picture"].jump_url
    # In the group DM itself its result links for the member (the server's never appears).
    in_place = await answer(anywhere, in_group, group, "history")
    assert made["group picture"].jump_url in in_place.text()
    assert "server picture" not in in_place.text()
    # The server's history keeps to the server.
    served = await answer(anywhere, member, anywhere.general, "history")
    assert "server picture" in served.text() and "dm picture" not in served.text()

    # There are no moderators in personal places: member: is refused privately.
    refused = await answer(anywhere, me, dm, "history", member=other)
    assert "only in a server" in refused.text() and "neighbour's picture" not in refused.text()
    forged = await anywhere.discord.press_forged_button(me, page, f"hist:{other.id}:{me.id}:1")
    told = await forged.wait_for_original(timeout=5)
    assert told.ephemeral and "neighbour's picture" not in told.text()

    monkeypatch.setattr(messages, "HISTORY_PAGE_SIZE", 1)
    paged = await answer(anywhere, me, dm, "history")
    assert "dm picture" in paged.text() and "Page 1 of 2" in paged.text()
    await anywhere.restart_bot()  # the page buttons still work
    older = await anywhere.discord.press_button(me, paged, label="Older ▶")
    await older.acknowledged(timeout=5)
    assert older.response_type == 7
    assert "group picture" in paged.text() and "dm picture" not in paged.text()
    assert "neighbour" not in paged.text()
    anywhere.discord.assert_no_errors()


async def test_imagine_this_works_in_personal_places_on_the_personal_quota(
    anywhere: Harness,
) -> None:
    member = anywhere.member("quoter")
    anywhere.discord.install_for_user(member)
    in_group, group = anywhere.discord.group_dm(member, anywhere.member("pal"))
    said = await anywhere.discord.send_message(in_group, group, "a lantern festival")
    opened = await anywhere.discord.run_message_command(in_group, said, "Imagine this")
    modal = await opened.wait_for_modal()
    submitted = await anywhere.discord.submit_modal(
        in_group, modal, {"prompt": "a lantern festival", "seed": "9"}
    )
    result = await submitted.wait_for_original(has_image, timeout=15)
    assert anywhere.api.requests[-1].json["seed"] == 9
    assert await personal_used(anywhere, member) == 1

    # On the member's own personal result it opens that generation's Edit dialog.
    me, dm = anywhere.discord.dm_with_bot(member)
    it = await imagine(anywhere, me, dm, "a paper boat")
    mine = await it.wait_for_original(has_image, timeout=15)
    opened = await anywhere.discord.run_message_command(me, mine, "Imagine this")
    modal = await opened.wait_for_modal()
    assert modal.custom_id.startswith("gen:edit-form:")
    edited = await anywhere.discord.submit_modal(me, modal, {"prompt": "a paper boat at sea"})
    await edited.wait_for_original(has_image, timeout=15)
    assert anywhere.api.requests[-1].json["prompt"] == "a paper boat at sea"
    assert await personal_used(anywhere, member) == 3
    assert result.id != mine.id
    anywhere.discord.assert_no_errors()


async def test_delete_in_a_group_dm_is_refused_privately_without_a_403(anywhere: Harness) -> None:
    member = anywhere.member("tidy")
    anywhere.discord.install_for_user(member)
    me, group = anywhere.discord.group_dm(member)
    it = await imagine(anywhere, me, group, "a tidy desk")
    result = await it.wait_for_original(has_image, timeout=15)
    pressed = await anywhere.discord.press_button(me, result, label="Delete")
    answer = await pressed.wait_for_original(timeout=5)
    assert answer.ephemeral and "can't delete messages here" in answer.content
    anywhere.discord.assert_no_errors()


# -- the 15-minute token where only the interaction can deliver ---------------------------------


async def test_a_queue_too_long_for_the_token_is_said_up_front(anywhere: Harness) -> None:
    member = anywhere.member("hurried")
    anywhere.discord.install_for_user(member)
    me, group = anywhere.discord.group_dm(member)
    service = anywhere.running_bot.generations
    usual = service.typical_run
    service.typical_run = 20 * 60.0  # the API has been taking 20 minutes a job lately
    try:
        it = await anywhere.discord.run_slash_command(me, group, "imagine", prompt="a quick one")
        answer = await it.wait_for_original(timeout=5)
    finally:
        service.typical_run = usual
    assert answer.ephemeral and "too busy to finish your image" in answer.content
    assert await personal_used(anywhere, member) == 0


async def test_a_token_that_expires_anyway_is_refunded_and_told_by_dm(anywhere: Harness) -> None:
    member = anywhere.member("unlucky-group")
    anywhere.discord.install_for_user(member)
    me, group = anywhere.discord.group_dm(member)
    anywhere.api.hold()
    try:
        it = await imagine(anywhere, me, group, "a very slow picture")
        await it.wait_for_original(lambda m: "Generating" in m.content, timeout=10)
        anywhere.discord.clock.advance(16 * 60)
    finally:
        anywhere.api.release()
    told = await anywhere.discord.wait_for_direct_message(
        member, lambda m: NOT_CHARGED in m.content, timeout=15
    )
    assert "could not post it" in told.content
    assert not [m for m in anywhere.discord.messages(group) if has_image(m)]
    assert await personal_used(anywhere, member) == 0, "refunded"
    # Never the bot token in the group DM: only the expired interaction token answered no.
    assert {e.code for e in anywhere.discord.errors} <= {50027}


# -- PERSONAL_USE=members: a stranger is refused privately, the API never called --------------


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def members_only(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    harness = await start_harness(
        tmp_path_factory.mktemp("members"), {"PERSONAL_USE": "members", "COMMAND_GUILD_IDS": ""}
    )
    await harness.discord.wait_until_commands_synced(None)
    try:
        yield harness
    finally:
        await harness.close()


async def test_members_refuses_a_stranger_privately_without_calling_the_api(
    members_only: Harness,
) -> None:
    world = members_only
    calls_before = len(world.api.requests)
    # A stranger: in no server with the bot, but they installed the app.
    place = world.discord.world.add_place("server", "Strangers", bot_present=False)
    stranger = place.add_member("stranger")
    world.discord.install_for_user(stranger)
    channel = place.add_channel("chat")
    it = await world.discord.run_slash_command(stranger, channel, "imagine", prompt="hello")
    answer = await it.wait_for_original(timeout=5)
    assert answer.ephemeral and "members of a server" in answer.content
    assert len(world.api.requests) == calls_before, "the image API was never called"
    # The membership lookups answer 404 Unknown Member: an answer, not an invalid request.
    assert {e.code for e in world.discord.errors} <= {10007}
    again = await world.discord.run_slash_command(stranger, channel, "usage", locale="ja")
    refused = await again.wait_for_original(timeout=5)
    assert refused.ephemeral
    japanese = messages.personal_use_members_only(speech("ja"))
    assert refused.content == japanese != answer.content, "the command check: in their language"
    assert len([e for e in world.discord.errors if e.code == 10007]) == 1, "the answer is cached"


async def test_members_lets_a_member_of_the_bots_server_in(members_only: Harness) -> None:
    world = members_only
    member = world.member("insider")
    world.discord.install_for_user(member)
    me, group = world.discord.group_dm(member)
    it = await world.discord.run_slash_command(me, group, "imagine", prompt="inside joke")
    await it.wait_for_original(has_image, timeout=15)
    world.discord.assert_no_errors()


# -- PERSONAL_USE=off (the default): nothing is offered outside the bot's servers ------------


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def servers_only(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    harness = await start_harness(tmp_path_factory.mktemp("off"), {"COMMAND_GUILD_IDS": ""})
    try:
        yield harness
    finally:
        await harness.close()


async def test_off_offers_nothing_outside_servers(servers_only: Harness) -> None:
    world = servers_only
    member = world.member("homebody")
    world.discord.install_for_user(member)  # even someone who installed the app
    places = [
        world.discord.dm_with_bot(member),
        world.discord.group_dm(member),
        world.discord.server_without_bot(member),
    ]
    for who, channel in places:
        for command in ("imagine", "usage", "queue"):
            options = {"prompt": "anything"} if command == "imagine" else {}
            with pytest.raises(ClientRejected):
                await world.discord.run_slash_command(who, channel, command, **options)
        for path in ("history", "preferences show", "preferences set"):
            with pytest.raises(ClientRejected):
                await world.discord.run_slash_command(who, channel, path)
        said = await world.discord.send_message(who, channel, "a sunny day")
        with pytest.raises(ClientRejected):
            await world.discord.run_message_command(who, said, "Imagine this")
    it = await world.discord.run_slash_command(member, world.general, "imagine", prompt="home")
    await it.wait_for_original(has_image, timeout=15)
    assert world.api.requests, "in the server it works as ever"
    shown = await world.discord.run_slash_command(member, world.general, "history")
    assert (await shown.wait_for_original(timeout=5)).ephemeral


# -- COMMAND_GUILD_IDS with personal use on: member commands global, moderators' per server -----


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def guild_synced(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    harness = await start_harness(tmp_path_factory.mktemp("both"), {"PERSONAL_USE": "members"})
    await harness.discord.wait_until_commands_synced(None)
    try:
        yield harness
    finally:
        await harness.close()


async def test_command_guild_ids_never_shows_a_command_twice(guild_synced: Harness) -> None:
    world = guild_synced
    member = world.member("twice")
    global_names = {c["name"] for c in world.discord.commands_for(None)}
    server_names = {c["name"] for c in world.discord.commands_for(world.guild)}
    assert {"imagine", "usage", "queue"} <= global_names, "user-installable: global"
    assert {"quota", "settings"} <= server_names and not global_names & server_names
    it = await world.discord.run_slash_command(member, world.general, "imagine", prompt="once")
    await it.wait_for_original(has_image, timeout=15)
    shown = await world.discord.run_slash_command(world.moderator, world.general, "settings show")
    assert (await shown.wait_for_original(timeout=5)).ephemeral
    me, dm = world.discord.dm_with_bot(member)
    usage = await world.discord.run_slash_command(me, dm, "usage")
    assert (await usage.wait_for_original(timeout=5)).ephemeral


async def test_turning_personal_use_off_again_leaves_no_command_twice(
    guild_synced: Harness,
) -> None:
    world = guild_synced
    world.settings = replace(world.settings, personal_use=PersonalUse.OFF)
    await world.restart_bot()
    assert world.discord.commands_for(None) == [], "the global member commands are gone"
    member = world.member("after")
    it = await world.discord.run_slash_command(member, world.general, "imagine", prompt="again")
    await it.wait_for_original(has_image, timeout=15)
    me, dm = world.discord.dm_with_bot(member)
    with pytest.raises(ClientRejected):
        await world.discord.run_slash_command(me, dm, "usage")


# -- turned off later: old results' buttons keep the owner's choice too -----------------------


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def turned_off(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    harness = await start_harness(
        tmp_path_factory.mktemp("turned-off"), {"PERSONAL_USE": "everyone", "COMMAND_GUILD_IDS": ""}
    )
    await harness.discord.wait_until_commands_synced(None)
    try:
        yield harness
    finally:
        await harness.close()


async def test_a_dm_results_reroll_is_refused_once_personal_use_is_off(
    turned_off: Harness,
) -> None:
    world = turned_off
    member = world.member("former")
    me, dm = world.discord.dm_with_bot(member)
    it = await imagine(world, me, dm, "a lighthouse")
    result = await it.wait_for_original(has_image, timeout=15)
    world.settings = replace(world.settings, personal_use=PersonalUse.OFF)
    await world.restart_bot()
    calls_before = len(world.api.requests)
    again = await world.discord.press_button(me, result, label="Re-roll")
    answer = await again.wait_for_original(timeout=5)
    assert answer.ephemeral and answer.id != result.id
    assert "only makes images inside servers" in answer.content, answer.content
    assert len(world.api.requests) == calls_before, "the image API was never called"
    assert await personal_used(world, member) == 1, "only the first image, from before"
    world.discord.assert_no_errors()
    assert world.running_bot.generations.default_limit_for(NO_SERVER) == 0, "no personal quota"
