"""Private replies of the moderation and workspace commands speak the reader's language.

/usage, /quota, /settings, /preferences, /history and the "Imagine this" dialog answer
only the member who asked, so they follow that member's Discord language, not the
server's. The translations here are a small test-only German catalog (tests/fake_catalogs)
so each story fails if a reply is not built from the reader's voice; numbers are
written as German writes them (1.500), seeds and ids as typed.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.policy.styles import MAX_STYLES_PER_GUILD
from cogs.common import messages
from tests.e2e.harness import Harness
from tests.emulators.discord import InteractionRecord, Member, Message
from tests.emulators.discord.interactions import CHANNEL_MESSAGE, MODAL
from tests.fake_catalogs import Msgid, Msgstr, installed

pytestmark = pytest.mark.asyncio(loop_scope="module")

WAIT = 15.0
GERMAN = "de"

DE: dict[Msgid, Msgstr] = {
    # /usage
    "Your images today": "Deine Bilder heute",
    "**{used}** of **{limit}** used · **{remaining}** left": (
        "**{used}** von **{limit}** verbraucht · **{remaining}** übrig"
    ),
    "Resets {when}": "Zurückgesetzt {when}",
    "Your limit comes from": "Dein Limit kommt von",
    "this server's default": "dem Standard dieses Servers",
    # /quota
    ("{count} image", "{count} images"): ("{count} Bild", "{count} Bilder"),
    "not set": "nicht gesetzt",
    "Set the server default to {new} (was {old}).": (
        "Standard des Servers auf {new} gesetzt (vorher {old})."
    ),
    "Removed the server default (was {old}).": "Standard des Servers entfernt (vorher {old}).",
    ("Usage over the last {count} day", "Usage over the last {count} days"): (
        "Nutzung am letzten {count} Tag",
        "Nutzung der letzten {count} Tage",
    ),
    "Top members": "Aktivste Mitglieder",
    # /settings
    "⚠️ Nothing changed: a blocked word cannot be empty.": (
        "⚠️ Nichts geändert: ein gesperrtes Wort darf nicht leer sein."
    ),
    (
        "⚠️ Nothing changed: a server can have at most {count} style; remove one first.",
        "⚠️ Nothing changed: a server can have at most {count} styles; remove one first.",
    ): (
        "⚠️ Nichts geändert: ein Server hat höchstens {count} Stil; entferne zuerst einen.",
        "⚠️ Nichts geändert: ein Server hat höchstens {count} Stile; entferne zuerst einen.",
    ),
    # /preferences
    "Give at least one option to set, e.g. `/preferences set steps:35`.": (
        "Gib mindestens eine Option an, z. B. `/preferences set steps:35`."
    ),
    # /history
    "Your recent images here": "Deine letzten Bilder hier",
    (
        "Page {page} of {pages} · {count} generation, newest first",
        "Page {page} of {pages} · {count} generations, newest first",
    ): (
        "Seite {page} von {pages} · {count} Generierung, neueste zuerst",
        "Seite {page} von {pages} · {count} Generierungen, neueste zuerst",
    ),
    "◀ Newer": "◀ Neuere",
    "Older ▶": "Ältere ▶",
    # "Imagine this"
    "Imagine this": "Stell dir das vor",
    "Prompt": "Prompt",
    "Size (empty for your default)": "Größe (leer für deinen Standard)",
    "Seed (empty for a random one)": "Seed (leer für einen zufälligen)",
    "The seed must be a whole number from 0 to {max}.": (
        "Der Seed muss eine ganze Zahl von 0 bis {max} sein."
    ),
}


@pytest.fixture
def german(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """The bot reads German from the test catalog; every other language is English."""
    with installed(monkeypatch, tmp_path / "locales", {"de": DE}):
        yield


ES: dict[Msgid, Msgstr] = {
    "Your images today": "Tus imágenes de hoy",
    "**{used}** of **{limit}** used · **{remaining}** left": (
        "**{used}** de **{limit}** usadas · quedan **{remaining}**"
    ),
}


@pytest.fixture
def spanish(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """One Spanish catalog (es), read by Spain's Discord (es-ES) and Latin America's (es-419)."""
    with installed(monkeypatch, tmp_path / "locales", {"es": ES}):
        yield


@pytest_asyncio.fixture(loop_scope="module", autouse=True)
async def judged(world: Harness) -> AsyncIterator[None]:
    """Nobody saw "This interaction failed", Discord refused nothing; settings put back."""
    yield
    assert world.discord.interaction_failures == []
    world.discord.assert_no_errors()
    world.guild.locale = "en-US"
    store = world.running_bot.store
    await store.set_default_limit(world.guild.id, None, actor_id=world.moderator.id)
    for style in await store.styles(world.guild.id):
        await store.remove_style(world.guild.id, style.name, actor_id=world.moderator.id)


async def private(
    world: Harness, member: Member, path: str, /, *, locale: str, **options: Any
) -> Message:
    """The answer only ``member`` sees, sent at once, with their Discord in ``locale``."""
    it = await world.discord.run_slash_command(
        member, world.general, path, locale=locale, **options
    )
    await it.acknowledged(timeout=WAIT)
    assert it.response_type == CHANNEL_MESSAGE, it
    reply = await it.wait_for_original(timeout=WAIT)
    assert reply.ephemeral, reply
    return reply


def fields(embed: dict[str, Any]) -> dict[str, str]:
    return {f["name"]: f["value"] for f in embed.get("fields", [])}


async def test_usage_and_quota_answers_follow_the_members_language_not_the_servers(
    world: Harness, german: None
) -> None:
    world.guild.locale = GERMAN  # a German server: its language is not a member's own
    mod = world.moderator

    set_text = (await private(world, mod, "quota set-default", locale=GERMAN, limit=1500)).text()
    assert set_text == "Standard des Servers auf 1.500 Bilder gesetzt (vorher nicht gesetzt)."

    erika, emma = world.member("erika"), world.member("emma")
    embed = (await private(world, erika, "usage", locale=GERMAN)).embeds[0]
    assert embed["title"] == "Deine Bilder heute"
    first, second = embed["description"].splitlines()
    assert first == "**0** von **1.500** verbraucht · **1.500** übrig"
    assert re.fullmatch(r"Zurückgesetzt <t:\d+:R>", second), "Discord writes the time itself"
    assert fields(embed) == {"Dein Limit kommt von": "dem Standard dieses Servers"}

    embed = (await private(world, emma, "usage", locale="en-US")).embeds[0]
    assert embed["title"] == "Your images today", "a private reply never takes the server's"
    assert embed["description"].startswith("**0** of **1,500** used · **1,500** left")

    removed = (await private(world, mod, "quota set-default", locale=GERMAN)).text()
    assert removed == "Standard des Servers entfernt (vorher 1.500 Bilder)."


async def test_latin_american_spanish_reads_the_spanish_words_with_its_own_numbers(
    world: Harness, spanish: None
) -> None:
    store = world.running_bot.store
    await store.set_default_limit(world.guild.id, 1500, actor_id=world.moderator.id)
    latin = (await private(world, world.member("lucia"), "usage", locale="es-419")).embeds[0]
    spain = (await private(world, world.member("pilar"), "usage", locale="es-ES")).embeds[0]
    assert latin["title"] == spain["title"] == "Tus imágenes de hoy"
    assert latin["description"].splitlines()[0] == "**0** de **1,500** usadas · quedan **1,500**"
    assert spain["description"].splitlines()[0] == "**0** de **1.500** usadas · quedan **1.500**"


async def test_quota_stats_are_in_the_moderators_language(world: Harness, german: None) -> None:
    made = await world.discord.run_slash_command(
        world.member("ida"), world.general, "imagine", prompt="a paper boat"
    )
    await made.wait_for_original(lambda m: bool(m.attachments), timeout=WAIT)
    await world.running_bot.flow.wait_until_idle()
    it = await world.discord.run_slash_command(
        world.moderator, world.general, "quota stats", locale=GERMAN, days=3
    )
    reply = await it.wait_for_followup(lambda m: bool(m.attachments), timeout=WAIT)
    assert reply.ephemeral
    embed = reply.embeds[0]
    assert embed["title"] == "Nutzung der letzten 3 Tage"
    assert "Aktivste Mitglieder" in fields(embed)
    today = datetime.now(UTC).date()
    first_day = fields(embed)["Per day (UTC)"].splitlines()[0]
    assert re.fullmatch(rf"`{today:%d.%m.%y}` \d+", first_day), "a date as German writes it"


async def test_a_moderators_refusals_are_in_their_language(world: Harness, german: None) -> None:
    mod = world.moderator
    # Only a zero-width space: nothing is left of it once normalised.
    empty = await private(world, mod, "settings block-word", locale=GERMAN, word="\u200b")
    assert empty.text() == "⚠️ Nichts geändert: ein gesperrtes Wort darf nicht leer sein."

    store = world.running_bot.store
    for i in range(MAX_STYLES_PER_GUILD):
        await store.add_style(world.guild.id, f"style {i:02}", "text", actor_id=mod.id)
    full = await private(
        world, mod, "settings add-style", locale=GERMAN, name="one more", text="ink"
    )
    assert full.text() == (
        "⚠️ Nichts geändert: ein Server hat höchstens 25 Stile; entferne zuerst einen."
    )
    english = await private(
        world, mod, "settings add-style", locale="en-US", name="one more", text="ink"
    )
    assert english.text() == (
        "⚠️ Nothing changed: a server can have at most 25 styles; remove one first."
    )


async def test_preferences_answer_in_the_members_language(world: Harness, german: None) -> None:
    reply = await private(world, world.member("greta"), "preferences set", locale=GERMAN)
    assert reply.text() == "Gib mindestens eine Option an, z. B. `/preferences set steps:35`."


async def test_history_pages_and_their_buttons_speak_the_viewers_language(
    world: Harness, german: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(messages, "HISTORY_PAGE_SIZE", 1)
    hanna = world.member("hanna")
    for prompt in ("a red kite", "a grey heron"):
        made = await world.discord.run_slash_command(hanna, world.general, "imagine", prompt=prompt)
        await made.wait_for_original(lambda m: bool(m.attachments), timeout=WAIT)

    page = await private(world, hanna, "history", locale=GERMAN)
    embed = page.embeds[0]
    assert embed["title"] == "Deine letzten Bilder hier"
    assert embed["footer"]["text"] == "Seite 1 von 2 · 2 Generierungen, neueste zuerst"
    assert "a grey heron" in embed["description"]
    assert [b["label"] for b in page.buttons] == ["◀ Neuere", "Ältere ▶"]

    older = await world.discord.press_button(hanna, page, label="Ältere ▶", locale=GERMAN)
    await older.acknowledged(timeout=WAIT)
    assert "a red kite" in page.embeds[0]["description"]
    assert page.embeds[0]["footer"]["text"].startswith("Seite 2 von 2")


async def test_the_imagine_this_dialog_and_its_refusal_are_in_the_members_language(
    world: Harness, german: None
) -> None:
    hanna, bob = world.member("hanna"), world.member("bob")
    said = await world.discord.send_message(bob, world.general, "a lighthouse at dusk")
    opened: InteractionRecord = await world.discord.run_message_command(
        hanna, said, "Imagine this", locale=GERMAN
    )
    await opened.acknowledged(timeout=WAIT)
    assert opened.response_type == MODAL
    modal = await opened.wait_for_modal()
    assert modal.title == "Stell dir das vor"
    labels = [i["label"] for i in modal.inputs()]
    assert labels == [
        "Prompt",
        "Größe (leer für deinen Standard)",
        "Seed (leer für einen zufälligen)",
    ]

    bad = await world.discord.submit_modal(hanna, modal, {"seed": "-1"}, locale=GERMAN)
    await bad.acknowledged(timeout=WAIT)
    refusal = (await bad.wait_for_original(timeout=WAIT)).text()
    assert refusal == "Der Seed muss eine ganze Zahl von 0 bis 4294967295 sein.", "seeds as typed"
