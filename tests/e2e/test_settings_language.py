"""``/settings language``: moderators fix the language of their server's public messages.

Results, progress lines and the moderation log are read by everyone there, so they speak
the server's language: Discord's (the server's ``guild_locale``) unless moderators chose
one. The choice is audited like every setting, shown in ``/settings show``, and kept with
each job, so a job resumed after a restart still speaks the language it began in. What only the
member who asked reads about a job (a private result, a direct message) is in their own
Discord language, kept with the job too, so a restart changes neither. Run on SQLite and
on PostgreSQL (with TEST_POSTGRES_URL).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.store import SqliteStore, open_store
from bot.store.base import AuditAction, GenerationRecord, GenerationStatus
from tests.core.conftest import fresh_schema, postgres_url
from tests.e2e.harness import Harness, start_harness
from tests.emulators.discord import ClientRejected, Member, Message, Permission
from tests.emulators.discord.interactions import CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE
from tests.fake_catalogs import installed

pytestmark = pytest.mark.asyncio(loop_scope="module")

WAIT = 15.0
LANGUAGE_NAMES = [
    "Server's own (Discord)",
    "Deutsch",
    "Français",
    "Español",
    "Português (Brasil)",
    "日本語",
    "English",
]


@pytest_asyncio.fixture(loop_scope="module", scope="module", params=["sqlite", "postgres"])
async def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Harness]:
    """A French server (its Discord language is fr), on each database."""
    data = tmp_path_factory.mktemp("language")
    if request.param == "sqlite":
        harness = await start_harness(data)
        harness.guild.locale = "fr"
        try:
            yield harness
        finally:
            await harness.close()
        return
    url = postgres_url()
    async with fresh_schema(url) as schema:
        separator = "&" if "?" in url else "?"
        env = {"DATABASE_URL": f"{url}{separator}search_path={schema}"}
        harness = await start_harness(data, env)
        harness.guild.locale = "fr"
        try:
            yield harness
        finally:
            await harness.close()


async def private_reply(world: Harness, who: Member, path: str, /, **options: Any) -> Message:
    it = await world.discord.run_slash_command(who, world.general, path, **options)
    await it.acknowledged(timeout=WAIT)
    assert it.response_type == CHANNEL_MESSAGE, it
    reply = await it.wait_for_original(timeout=WAIT)
    assert reply.ephemeral, reply
    return reply


async def choose(world: Harness, language: str) -> str:
    reply = await private_reply(world, world.moderator, "settings language", language=language)
    return reply.text()


async def shown_language(world: Harness) -> str:
    reply = await private_reply(world, world.moderator, "settings show")
    fields = {f["name"]: f["value"] for f in reply.embeds[0]["fields"]}
    return str(fields["Language of public messages"])


async def generate(world: Harness, member: Member, prompt: str) -> GenerationRecord:
    it = await world.discord.run_slash_command(member, world.general, "imagine", prompt=prompt)
    await it.acknowledged(timeout=WAIT)
    assert it.response_type == DEFERRED_CHANNEL_MESSAGE, it
    await it.wait_for_original(lambda m: bool(m.attachments), timeout=WAIT)
    bot = world.running_bot
    await bot.flow.wait_until_idle()
    records, _ = await bot.store.history(world.guild.id, member.id, limit=50)
    (record,) = [r for r in records if r.params.prompt == prompt]
    return record


async def test_the_choices_name_each_language_in_its_own_words_for_moderators_only(
    world: Harness,
) -> None:
    settings = world.discord.commands.find(world.guild.id, "settings")
    assert settings is not None
    assert settings["default_member_permissions"] == str(Permission.MANAGE_GUILD)
    language = next(o for o in settings["options"] if o["name"] == "language")
    (option,) = language["options"]
    assert [c["name"] for c in option["choices"]] == LANGUAGE_NAMES
    assert [c["value"] for c in option["choices"]] == [
        "server", "de", "fr", "es-ES", "pt-BR", "ja", "en-US"
    ]  # fmt: skip

    member = world.member()
    with pytest.raises(ClientRejected, match="hidden"):
        await world.discord.run_slash_command(member, world.general, "settings language")
    settings["default_member_permissions"] = None  # an admin lets everyone see /settings
    try:
        refusal = await private_reply(world, member, "settings language", language="de")
    finally:
        settings["default_member_permissions"] = str(Permission.MANAGE_GUILD)
    assert "Manage Server" in refusal.text(), "checked by the bot, whatever admins allowed"
    assert (await world.running_bot.store.guild_policy(world.guild.id)).language is None


async def test_a_chosen_language_is_audited_shown_and_spoken_by_the_next_results(
    world: Harness,
) -> None:
    member = world.member()
    store = world.running_bot.store
    assert "server's own Discord language (Français)" in await shown_language(world)
    before = await generate(world, member, "a heron at dawn")
    assert before.locale == "fr", "nobody chose: the server's own Discord language"

    told = await choose(world, "de")
    assert "now in **Deutsch**" in told and "each member's own" in told
    assert await shown_language(world) == "Deutsch"
    assert (await generate(world, member, "a heron at noon")).locale == "de"
    assert "already in Deutsch" in await choose(world, "de")

    told = await choose(world, "server")
    assert "now follow the server's own Discord language (Français)" in told
    assert (await generate(world, member, "a heron at dusk")).locale == "fr"

    changes = [
        (e.actor_id, e.old_value, e.new_value)
        for e in reversed(await store.audit_log(world.guild.id, limit=100))
        if e.action is AuditAction.LANGUAGE
    ]
    assert changes == [(world.moderator.id, None, "de"), (world.moderator.id, "de", None)]
    view = await private_reply(world, world.moderator, "quota view")
    assert "language" in view.text(), "the audit trail in /quota view names the change"
    world.discord.assert_no_errors()


async def test_a_job_resumed_after_a_restart_speaks_the_language_it_began_in(
    world: Harness,
) -> None:
    await choose(world, "ja")
    member = world.member()
    world.api.hold()
    try:
        it = await world.discord.run_slash_command(
            member, world.general, "imagine", prompt="a crane in snow"
        )
        await it.acknowledged(timeout=WAIT)
        await world.api.wait_for_requests(len(world.api.requests))
        await world.running_bot.flow.shutdown(0)  # cut off, as by a crash
        await world.stop_bot()
        await choose_offline(world, None)  # moderators change their mind meanwhile
        bot = await world.start_bot()  # ready once start-up resumed what was left
        (record,) = [r for r in await bot.store.in_flight(world.guild.id) if r.user_id == member.id]
        assert record.locale == "ja"
        job = bot.generations.job(record.id)
        assert job is not None and job.resumed and job.locale == "ja"
    finally:
        world.api.release()
    await it.wait_for_original(lambda m: bool(m.attachments), timeout=WAIT)
    await world.running_bot.store.set_language(world.guild.id, None, actor_id=world.moderator.id)


GERMAN = {
    "🚫 <@{user}> was refused in <#{channel}>": "🚫 <@{user}> wurde in <#{channel}> abgelehnt",
    "Size": "Größe",
}


async def test_the_chosen_language_is_what_everyone_reads_and_the_log_too(
    world: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A French server whose moderators chose German: a member whose Discord is in
    Japanese gets a German result; a refusal by the rules is logged in German."""
    store = world.running_bot.store
    log = world.guild.add_channel("journal")
    with installed(monkeypatch, tmp_path / "locales", {"de": GERMAN}):
        await choose(world, "de")
        await store.set_log_channel(world.guild.id, log.id, actor_id=world.moderator.id)
        await store.block_word(world.guild.id, "ghost", actor_id=world.moderator.id)
        try:
            member = world.member()
            it = await world.discord.run_slash_command(
                member, world.general, "imagine", prompt="a castle", locale="ja"
            )
            result = await it.wait_for_original(lambda m: bool(m.attachments), timeout=WAIT)
            assert "Größe" in {f["name"] for f in result.embeds[0]["fields"]}
            refused = await world.discord.run_slash_command(
                member, world.general, "imagine", prompt="a ghost", locale="ja"
            )
            assert (await refused.wait_for_original(timeout=WAIT)).ephemeral
            entry = await world.discord.wait_for_message(
                log, lambda m: "abgelehnt" in m.content, timeout=WAIT
            )
            assert entry.content == f"🚫 <@{member.id}> wurde in <#{world.general.id}> abgelehnt"
        finally:
            await world.running_bot.moderation_log.wait_idle()
            await store.unblock_word(world.guild.id, "ghost", actor_id=world.moderator.id)
            await store.set_log_channel(world.guild.id, None, actor_id=world.moderator.id)
            await store.set_language(world.guild.id, None, actor_id=world.moderator.id)


PICKED_IN_GERMAN = {"Image {number}, picked by {name}": "Bild {number}, ausgewählt von {name}"}


async def test_a_picked_image_after_a_restart_is_in_the_language_its_result_was_posted_in(
    world: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The result was German (the moderators' choice); a new process knows no choice
    until it reads one, and moderators may since have changed it: U2 still posts in
    the result's own language."""
    with installed(monkeypatch, tmp_path / "locales", {"de": PICKED_IN_GERMAN}):
        await choose(world, "de")
        try:
            member = world.member("pia")
            it = await world.discord.run_slash_command(
                member, world.general, "imagine", prompt="two herons", count=2
            )
            result = await it.wait_for_original(lambda m: len(m.attachments) == 2, timeout=WAIT)
            await world.running_bot.flow.wait_until_idle()
            await world.restart_bot()
            await choose_offline(world, None)  # now the server's own (French) for new results
            pressed = await world.discord.press_button(member, result, label="U2", locale="ja")
            await pressed.acknowledged(timeout=WAIT)
            picked = await pressed.wait_for_original(lambda m: bool(m.attachments), timeout=WAIT)
        finally:
            await world.running_bot.store.set_language(
                world.guild.id, None, actor_id=world.moderator.id
            )
    assert not picked.ephemeral
    assert picked.embeds[0]["author"]["name"] == f"Bild 2, ausgewählt von {member.name}"
    world.discord.assert_no_errors()


async def choose_offline(world: Harness, language: str | None) -> None:
    """A choice written while this process is down (another process, say)."""
    from bot.store import open_store

    store = await open_store(world.settings.database_url)
    try:
        await store.set_language(world.guild.id, language, actor_id=world.moderator.id)
    finally:
        await store.close()


TOO_LATE = (
    "⏳ Your image could not be made in time: here I can only answer within Discord's "
    "15-minute window, and it ran out while your request waited. Please try again. "
    "You were not charged."
)
TWO_READERS = {
    "de": {
        "Requested by {name}": "Angefordert von {name}",
        "About your request in <#{channel}>: {text}": "Zu deiner Anfrage in <#{channel}>: {text}",
        TOO_LATE: "⏳ Dein Bild kam nicht rechtzeitig. Versuch es noch einmal. Nichts berechnet.",
    },
    "fr": {
        "Requested by {name}": "Demandé par {name}",
        "About your request in <#{channel}>: {text}": (
            "À propos de votre demande dans <#{channel}> : {text}"
        ),
        TOO_LATE: "⏳ Votre image n'a pas pu être faite à temps. Rien ne vous a été compté.",
    },
}


async def cut_off_mid_generation(world: Harness, member: Member, prompt: str) -> Any:
    """``member``, whose Discord is in German, asks for a private result in this French
    server; the bot process stops while the API works on it, as by a crash."""
    world.api.hold()
    it = await world.discord.run_slash_command(
        member, world.general, "imagine", prompt=prompt, private=True, locale="de"
    )
    await it.acknowledged(timeout=WAIT)
    await world.api.wait_for_requests(len(world.api.requests))
    await world.running_bot.flow.shutdown(0)
    await world.stop_bot()
    return it


async def test_a_private_result_resumed_after_a_restart_is_in_the_members_language(
    world: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with installed(monkeypatch, tmp_path / "locales", TWO_READERS):
        member = world.member("greta")
        try:
            it = await cut_off_mid_generation(world, member, "a private lighthouse")
        finally:
            world.api.release()
        await world.start_bot()  # a new process: no interaction, only the job's record
        result = await it.wait_for_original(lambda m: bool(m.attachments), timeout=WAIT)
    assert result.ephemeral
    # The new process has not met her (no name in its cache): her mention-free id stands in.
    assert result.embeds[0]["author"]["name"].startswith("Angefordert von "), "hers, not French"
    (record,), _ = await world.running_bot.store.history(world.guild.id, member.id, limit=5)
    assert (record.locale, record.member_locale) == ("fr", "de"), "both readers on record"
    world.discord.assert_no_errors()


async def test_the_too_late_message_after_a_restart_is_in_the_members_language(
    world: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with installed(monkeypatch, tmp_path / "locales", TWO_READERS):
        member = world.member("gustav")
        try:
            await cut_off_mid_generation(world, member, "a private letter")
            await expire_token_offline(world, "a private letter")  # the next start is late
        finally:
            world.api.release()
        await world.start_bot()
        told = await world.discord.wait_for_direct_message(
            member, lambda m: "Nichts berechnet" in m.content or "Rien" in m.content, timeout=WAIT
        )
    assert told.content == (
        f"Zu deiner Anfrage in <#{world.general.id}>: ⏳ Dein Bild kam nicht rechtzeitig. "
        "Versuch es noch einmal. Nichts berechnet."
    ), "only he reads it: his language, not the server's French"
    records, _ = await world.running_bot.store.history(world.guild.id, member.id, limit=5)
    assert [r.status for r in records] == [GenerationStatus.FAILED], "refunded"


async def expire_token_offline(world: Harness, prompt: str) -> None:
    """As if the bot stayed down past the member's 15 minutes: only the stored token's
    expiry moves (the bot reads the real clock for it)."""
    store = await open_store(world.settings.database_url)
    try:
        sqlite = isinstance(store, SqliteStore)
        sql = "UPDATE generations SET token_expires_at = {} WHERE prompt = {}".format(
            *(("?", "?") if sqlite else ("$1", "$2"))
        )
        gone = store._ts_param(datetime.now(UTC) - timedelta(minutes=1))
        assert await store._write_one(sql, gone, prompt) == 1
    finally:
        await store.close()
