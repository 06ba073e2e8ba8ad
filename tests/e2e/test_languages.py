"""Who reads what, in which language (issue #14), told through the Discord emulator.

Public messages (a result with its embed and buttons, the progress line, a picked image,
the moderation log) follow the server's language, whatever the language of the member who
asked; private ones (a refusal, Info, the Edit dialog) follow the member's Discord. A
private result, which only its member sees, is in the member's language.

Translations are written by translators later, so these tests install small test-only
catalogs (``tests/fake_catalogs.py``) for French and German: what they check is that each
text of the generation path goes through the catalog and is said in the right voice, and
that everything read back by the bot (custom ids, the footer) stays the same in any language.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from discord import app_commands

from bot import i18n
from tests.e2e.harness import Harness
from tests.emulators.discord import Channel, InteractionRecord, Member, Message, Permission
from tests.emulators.discord.interactions import CHANNEL_MESSAGE, MODAL
from tests.emulators.siraya import Fault
from tests.fake_catalogs import Msgid, Msgstr, installed

pytestmark = pytest.mark.asyncio(loop_scope="module")

WAIT = 15.0
TOKEN_LIFETIME = 15 * 60

FRENCH: dict[Msgid, Msgstr] = {
    "Requested by {name}": "Demandé par {name}",
    "Seed": "Graine",
    "Seeds": "Graines",
    "Size": "Taille",
    "Steps": "Étapes",
    "Guidance": "Guidage",
    "Acceleration": "Accélération",
    "Safety checker": "Filtre de sécurité",
    "on": "activé",
    "Time": "Durée",
    "{seconds} s": "{seconds} s",
    "Made from": "Fait à partir de",
    "[generation #{id}]({url})": "[génération n° {id}]({url})",
    "custom {width}×{height}": "sur mesure {width}×{height}",
    "Re-roll": "Relancer",
    "Variations": "Variantes",
    "Edit": "Modifier",
    "Info": "Infos",
    "Delete": "Supprimer",
    "U{number}": "V{number}",
    ("🎨 Generating {count} image… {elapsed}", "🎨 Generating {count} images… {elapsed}"): (
        "🎨 Génération de {count} image… {elapsed}",
        "🎨 Génération de {count} images… {elapsed}",
    ),
    "Image {number}, picked by {name}": "Image {number}, choisie par {name}",
    "From": "Issue de",
    "Width and height must both be set for a custom size, or neither.": (
        "Pour une taille sur mesure, donnez la largeur et la hauteur, ou aucune des deux."
    ),
    (
        "🖼️ <@{user}> generated {count} image in <#{channel}>",
        "🖼️ <@{user}> generated {count} images in <#{channel}>",
    ): (
        "🖼️ <@{user}> a généré {count} image dans <#{channel}>",
        "🖼️ <@{user}> a généré {count} images dans <#{channel}>",
    ),
    "[Jump to the result]({url})": "[Voir le résultat]({url})",
    "Images": "Images",
    "{delivered} of {asked}": "{delivered} sur {asked}",
    "moderation log · generation #{id}": "journal de modération · génération n° {id}",
    "Image generation is not enabled in this channel. Try {channels}.": (
        "La génération d'images n'est pas activée dans ce salon. Essayez {channels}."
    ),
    "🚫 <@{user}> was refused in <#{channel}>": "🚫 <@{user}> a été refusé dans <#{channel}>",
    "/imagine is not enabled in that channel": "/imagine n'est pas activé dans ce salon",
    "Why": "Pourquoi",
    (
        "⏳ Waiting for a free slot: you are number {position} in line. ({count} image)",
        "⏳ Waiting for a free slot: you are number {position} in line. ({count} images)",
    ): (
        "⏳ En attente d'une place : vous êtes n° {position} dans la file. ({count} image)",
        "⏳ En attente d'une place : vous êtes n° {position} dans la file. ({count} images)",
    ),
    "Cancel": "Annuler",
    "{mention}, your image is ready.": "{mention}, votre image est prête.",
    "🛑 Cancelled before it started. You were not charged for it.": (
        "🛑 Annulé avant de commencer. Rien ne vous a été compté."
    ),
}
GERMAN: dict[Msgid, Msgstr] = {
    "Generation #{id}": "Generierung #{id}",
    "Seed": "Seed",
    "Size": "Größe",
    "Steps": "Schritte",
    "Requested by": "Angefordert von",
    "Reproduce it": "Erneut erzeugen",
    "Edit and generate again": "Bearbeiten und neu erzeugen",
    "Prompt": "Prompt",
    "Seed (empty for a random one)": "Seed (leer: ein zufälliger)",
    "Steps ({low}–{high})": "Schritte ({low}–{high})",
    "Guidance ({low}–{high})": "Guidance ({low}–{high})",
    "Width and height must both be set for a custom size, or neither.": (
        "Für eine eigene Größe gib Breite und Höhe an, oder keins von beiden."
    ),
    (
        "⚠️ The image service is having trouble at the moment. Please try again shortly. "
        "You were not charged for it."
    ): (
        "⚠️ Der Bilddienst hat gerade Probleme. Bitte versuch es gleich noch einmal. "
        "Es wurde dir nichts berechnet."
    ),
    "🛑 Cancelled. You were not charged for it.": "🛑 Abgebrochen. Es wurde dir nichts berechnet.",
    "Your requests": "Deine Anfragen",
    ("{count} image", "{count} images"): ("{count} Bild", "{count} Bilder"),
    "number {position} in line": "Platz {position} in der Warteschlange",
    "#{id} {images} · {state} · “{prompt}”": "#{id} {images} · {state} · „{prompt}“",
    ("{count} request in flight", "{count} requests in flight"): (
        "{count} Anfrage unterwegs",
        "{count} Anfragen unterwegs",
    ),
    "About your request in <#{channel}>: {text}": "Zu deiner Anfrage in <#{channel}>: {text}",
    "⚠️ The image was made but I could not post it here. You were not charged for it.": (
        "⚠️ Das Bild ist fertig, aber ich konnte es hier nicht posten. "
        "Es wurde dir nichts berechnet."
    ),
    "You need the **Manage Server** permission to use this command.": (
        "Du brauchst die Berechtigung **Server verwalten** für diesen Befehl."
    ),
    "You cannot use this command here.": "Diesen Befehl kannst du hier nicht verwenden.",
}
IN_FRENCH = "Pour une taille sur mesure"
IN_GERMAN = "Für eine eigene Größe"
IN_ENGLISH = "Width and height must both be set"
FOOTER = re.compile(r"FLUX\.1 SRPO · generation #(\d+)")


@pytest.fixture(autouse=True)
def catalogs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with installed(monkeypatch, tmp_path / "locales", {"fr": FRENCH, "de": GERMAN}):
        yield


@pytest_asyncio.fixture(loop_scope="module")
async def french_server(world: Harness) -> AsyncIterator[Harness]:
    """The test server's language is French (Discord's server setting) for one test."""
    world.guild.locale = "fr"
    try:
        yield world
    finally:
        world.guild.locale = "en-US"


# -- steps -----------------------------------------------------------------------------------


async def imagine(
    world: Harness, member: Member, *, locale: str = "en-US", **options: Any
) -> tuple[InteractionRecord, Message]:
    """``member`` (whose Discord is in ``locale``) runs /imagine; the result appears."""
    count = options.get("count", 1)
    it = await world.discord.run_slash_command(
        member, world.general, "imagine", locale=locale, **options
    )
    await it.acknowledged(timeout=WAIT)
    result = await it.wait_for_original(lambda m: len(m.attachments) == count, timeout=WAIT)
    return it, result


async def press(
    world: Harness, member: Member, message: Message, label: str, *, locale: str = "en-US"
) -> InteractionRecord:
    it = await world.discord.press_button(member, message, label=label, locale=locale)
    await it.acknowledged(timeout=WAIT)
    return it


def fields(message: Message) -> dict[str, str]:
    return {f["name"]: f["value"] for f in message.embeds[0]["fields"]}


def labels(message: Message) -> list[list[str]]:
    return [[b.get("label", "") for b in row["components"]] for row in message.components]


# -- the result is the server's ---------------------------------------------------------------


async def test_a_french_servers_result_is_in_french_whoever_asked(french_server: Harness) -> None:
    world = french_server
    alice = world.member("alice")
    it, result = await imagine(world, alice, locale="en-US", prompt="un phare", count=2, seed=7)

    embed = result.embeds[0]
    assert embed["author"]["name"] == f"Demandé par {alice.name}"
    shown = fields(result)
    assert shown["Graines"] == "V1\u00a0`7` · V2\u00a0`8`", "each seed named as its button"
    assert shown["Taille"] == "landscape_4_3 (1024×768)", "an option value stays as typed"
    assert shown["Étapes"] == "28"
    assert shown["Filtre de sécurité"] == "activé"
    assert re.fullmatch(r"\d+,\d s", shown["Durée"]), "a French decimal comma"
    assert labels(result) == [
        ["Relancer", "Variantes", "Modifier", "Infos", "Supprimer"],
        ["V1", "V2"],
    ]
    ids = [b["custom_id"] for b in result.buttons]
    assert all(re.fullmatch(r"gen:(reroll|vary|edit|info|delete|pick):\d+(:\d)?", i) for i in ids)
    footer = FOOTER.fullmatch(embed["footer"]["text"])
    assert footer is not None, "the footer recovery reads back is the same in every language"
    progress = [v.content for v in it.original.history if v.content]
    assert any(line.startswith("🎨 Génération de 2 images…") for line in progress), progress
    world.discord.assert_no_errors()


async def test_a_result_in_an_english_server_stays_english_for_a_french_member(
    world: Harness,
) -> None:
    bruno = world.member("bruno")
    _, result = await imagine(world, bruno, locale="fr", prompt="a harbour")
    assert result.embeds[0]["author"]["name"] == f"Requested by {bruno.name}"
    assert {"Seed", "Size", "Steps", "Time"} <= set(fields(result))
    assert labels(result) == [["Re-roll", "Variations", "Edit", "Info", "Delete"]]


async def test_a_private_result_is_in_the_language_of_the_member_who_alone_sees_it(
    french_server: Harness,
) -> None:
    world = french_server
    chloe = world.member("chloe")
    _, mine = await imagine(world, chloe, locale="en-US", prompt="a quiet lake", private=True)
    assert mine.ephemeral
    assert mine.embeds[0]["author"]["name"] == f"Requested by {chloe.name}"
    assert labels(mine)[0][0] == "Re-roll"


# -- private answers are the member's -------------------------------------------------------


@pytest.mark.parametrize(
    ("member_locale", "server_locale", "expected"),
    [
        ("fr", "en-US", IN_FRENCH),
        ("en-US", "fr", IN_ENGLISH),
        ("de", "fr", IN_GERMAN),
        ("ja", "fr", IN_ENGLISH),  # no catalog for it here: English, never a crash
    ],
)
async def test_a_refusal_is_in_the_members_language_not_the_servers(
    world: Harness, member_locale: str, server_locale: str, expected: str
) -> None:
    world.guild.locale = server_locale
    try:
        member = world.member("dora")
        it = await world.discord.run_slash_command(
            member, world.general, "imagine", prompt="a kite", width=512, locale=member_locale
        )
        await it.acknowledged(timeout=WAIT)
        reply = await it.wait_for_original(timeout=WAIT)
    finally:
        world.guild.locale = "en-US"
    assert reply.ephemeral
    assert reply.content.startswith(expected), reply.content
    assert await world.used_today(member) == 0


async def test_buttons_of_a_french_result_work_and_answer_each_member_privately_in_theirs(
    french_server: Harness,
) -> None:
    world = french_server
    emil = world.member("emil")
    _, result = await imagine(world, emil, locale="de", prompt="ein Leuchtturm", seed=11)
    generation = int(FOOTER.fullmatch(result.embeds[0]["footer"]["text"])[1])  # type: ignore[index]

    info = await press(world, emil, result, "Infos", locale="de")
    assert info.response_type == CHANNEL_MESSAGE
    answer = await info.wait_for_original(timeout=WAIT)
    assert answer.ephemeral
    assert answer.embeds[0]["title"] == f"Generierung #{generation}"
    assert {"Seed", "Größe", "Schritte", "Angefordert von", "Erneut erzeugen"} <= set(
        fields(answer)
    )

    opened = await press(world, emil, result, "Modifier", locale="de")
    assert opened.response_type == MODAL
    form = await opened.wait_for_modal(timeout=WAIT)
    assert form.title == "Bearbeiten und neu erzeugen"
    assert [i["label"] for i in form.inputs()] == [
        "Prompt",
        "Seed (leer: ein zufälliger)",
        "Schritte (1–50)",
        "Guidance (1–20)",
    ]
    done = await world.discord.submit_modal(
        emil, form, {"Prompt": "ein Leuchtturm im Nebel"}, locale="de"
    )
    await done.acknowledged(timeout=WAIT)
    edited = await done.wait_for_original(lambda m: bool(m.attachments), timeout=WAIT)
    assert not edited.ephemeral
    assert "Fait à partir de" in fields(edited), "the new public result is the server's"
    assert fields(edited)["Fait à partir de"].startswith(f"[génération n° {generation}](")

    again = await press(world, emil, result, "Relancer", locale="de")
    rerolled = await again.wait_for_original(lambda m: bool(m.attachments), timeout=WAIT)
    assert labels(rerolled)[0][0] == "Relancer"
    world.discord.assert_no_errors()


async def test_a_picked_image_of_a_french_result_is_posted_in_french(
    french_server: Harness,
) -> None:
    world = french_server
    fanny = world.member("fanny")
    _, result = await imagine(world, fanny, locale="en-US", prompt="deux chats", count=2)
    it = await press(world, fanny, result, "V2")
    picked = await it.wait_for_original(lambda m: bool(m.attachments), timeout=WAIT)
    assert picked.embeds[0]["author"]["name"] == f"Image 2, choisie par {fanny.name}"
    assert "Issue de" in fields(picked)
    assert labels(picked) == [["Relancer", "Modifier", "Infos", "Supprimer"]]
    assert picked.embeds[0]["footer"]["text"].endswith(" · image 2"), "read back by Delete"
    gone = await press(world, fanny, picked, "Supprimer")
    await gone.wait_for_followup(lambda m: "Deleted" in m.content, timeout=WAIT)
    assert picked.id not in [m.id for m in world.discord.messages(world.general)]


# -- the moderation log is the server's -----------------------------------------------------


@pytest_asyncio.fixture(loop_scope="module")
async def log_channel(world: Harness) -> AsyncIterator[Channel]:
    channel = world.guild.add_channel("journal")
    store = world.running_bot.store
    await store.set_log_channel(world.guild.id, channel.id, actor_id=world.moderator.id)
    yield channel
    await world.running_bot.moderation_log.wait_idle()
    await store.set_log_channel(world.guild.id, None, actor_id=world.moderator.id)


async def test_the_moderation_log_of_a_french_server_is_in_french(
    french_server: Harness, log_channel: Channel
) -> None:
    world = french_server
    gaby = world.member("gaby")
    await imagine(world, gaby, locale="de", prompt="un moulin", width=512, height=512)
    entry = await world.discord.wait_for_message(log_channel, timeout=WAIT)
    assert entry.content == f"🖼️ <@{gaby.id}> a généré 1 image dans <#{world.general.id}>"
    embed = entry.embeds[0]
    assert "[Voir le résultat](" in embed["description"]
    logged = {f["name"]: f["value"] for f in embed["fields"]}
    assert logged["Taille"] == "sur mesure 512×512"
    assert logged["Images"] == "1 sur 1"
    assert embed["footer"]["text"].startswith("journal de modération · génération n° ")


async def test_a_failure_after_the_acknowledgement_is_told_in_the_members_language(
    french_server: Harness,
) -> None:
    world = french_server
    hugo = world.member("hugo")
    world.api.fail_next(Fault.status(503), Fault.status(503))  # every attempt (2)
    it = await world.discord.run_slash_command(
        hugo, world.general, "imagine", prompt="un pont", locale="de"
    )
    await it.acknowledged(timeout=WAIT)
    told = await it.wait_for_followup(lambda m: "nichts berechnet" in m.content, timeout=WAIT)
    assert told.ephemeral and told.visible_to == hugo.id
    assert told.content.startswith("⚠️ Der Bilddienst hat gerade Probleme.")
    assert await world.used_today(hugo) == 0
    assert world.api.pending_faults == 0


async def test_a_channel_refusal_names_the_channels_in_the_members_language_and_logs_in_the_servers(
    world: Harness, log_channel: Channel
) -> None:
    store = world.running_bot.store
    art, bots = world.guild.add_channel("art"), world.guild.add_channel("bots")
    for channel in (art, bots):
        await store.allow_channel(world.guild.id, channel.id, actor_id=world.moderator.id)
    try:
        iris = world.member("iris")  # her Discord is in French; the server is English
        it = await world.discord.run_slash_command(
            iris, world.general, "imagine", prompt="un vase", locale="fr"
        )
        reply = await it.wait_for_original(timeout=WAIT)
        world.guild.locale = "fr"  # the same refusal once the server is French too
        again = await world.discord.run_slash_command(
            iris, world.general, "imagine", prompt="un vase bleu", locale="fr"
        )
        await again.wait_for_original(timeout=WAIT)
    finally:
        world.guild.locale = "en-US"
        for channel in (art, bots):
            await store.disallow_channel(world.guild.id, channel.id, actor_id=world.moderator.id)
    assert reply.ephemeral
    assert reply.content == (
        "La génération d'images n'est pas activée dans ce salon. "
        f"Essayez <#{art.id}> ou <#{bots.id}>."
    ), "a whole sentence of the catalog, the channels listed as French lists them"
    await world.running_bot.moderation_log.wait_idle()
    english, french = world.discord.messages(log_channel)[-2:]  # the server's language, each
    assert english.content == f"🚫 <@{iris.id}> was refused in <#{world.general.id}>"
    assert french.content == f"🚫 <@{iris.id}> a été refusé dans <#{world.general.id}>"
    assert french.embeds[0]["fields"] == [
        {"name": "Pourquoi", "value": "/imagine n'est pas activé dans ce salon", "inline": False}
    ]


async def test_a_waiting_job_shows_its_place_and_cancel_in_the_servers_language(
    french_server: Harness,
) -> None:
    world = french_server
    world.api.hold()
    try:
        asked = len(world.api.requests)
        running = []
        for _ in range(world.running_bot.settings.max_concurrent_jobs):
            job = await world.discord.run_slash_command(
                world.member("runner"), world.general, "imagine", prompt="un train"
            )
            await job.acknowledged(timeout=WAIT)
            running.append(job)
        await world.api.wait_for_requests(asked + len(running), timeout=WAIT)
        jules = world.member("jules")
        waiting = await world.discord.run_slash_command(
            jules, world.general, "imagine", prompt="un bateau", locale="de"
        )
        await waiting.acknowledged(timeout=WAIT)
        line = await waiting.wait_for_original(lambda m: "dans la file" in m.content, timeout=WAIT)
        assert line.content == (
            "⏳ En attente d'une place : vous êtes n° 1 dans la file. (1 image)"
        ), "the public line is the server's, whoever waits"
        cancel = line.button(label="Annuler")
        assert cancel is not None and cancel["custom_id"].startswith("job:cancel:")

        mine = await world.discord.run_slash_command(jules, world.general, "queue", locale="de")
        queued = await mine.wait_for_original(timeout=WAIT)
        assert queued.ephemeral and queued.embeds[0]["title"] == "Deine Anfragen"
        assert "1 Bild · Platz 1 in der Warteschlange · „un bateau“" in queued.text()
        assert queued.embeds[0]["footer"]["text"] == "1 Anfrage unterwegs"

        pressed = await press(world, jules, line, "Annuler", locale="de")
        told = await pressed.wait_for_original(timeout=WAIT)
        assert told.ephemeral and told.content == "🛑 Abgebrochen. Es wurde dir nichts berechnet."
        gone = await waiting.wait_for_original(lambda m: "Annulé" in m.content, timeout=WAIT)
        assert gone.content.startswith("🛑 Annulé avant de commencer.")
    finally:
        world.api.release()
    for job in running:
        await job.wait_for_original(lambda m: bool(m.attachments), timeout=WAIT)
    assert await world.used_today(jules) == 0


async def test_a_command_refused_by_its_permission_check_answers_in_the_members_language(
    french_server: Harness,
) -> None:
    world = french_server
    karl = world.member("karl")
    synced = world.discord.commands.find(world.guild.id, "quota")
    assert synced is not None
    required, synced["default_member_permissions"] = synced["default_member_permissions"], None
    try:  # an admin let everyone see /quota (Server Settings → Integrations)
        it = await world.discord.run_slash_command(
            karl, world.general, "quota set-default", limit=999, locale="de"
        )
        reply = await it.wait_for_original(timeout=WAIT)
    finally:
        synced["default_member_permissions"] = required
    assert reply.ephemeral
    assert reply.content == "Du brauchst die Berechtigung **Server verwalten** für diesen Befehl."


async def test_a_failed_check_answers_in_the_members_language_not_discord_pys_english(
    world: Harness,
) -> None:
    """discord.py's CheckFailure says "The check functions for command 'usage' failed."."""
    tree = world.running_bot.tree
    commands = [
        command
        for command in (tree.get_command("usage"), tree.get_command("usage", guild=world.guild))
        if isinstance(command, app_commands.Command)
    ]
    assert commands, "/usage is registered"

    def refuse(interaction: object) -> bool:
        return False  # a check that says no, as any added later might

    for command in commands:
        command.add_check(refuse)
    try:
        it = await world.discord.run_slash_command(
            world.member("olaf"), world.general, "usage", locale="de"
        )
        reply = await it.wait_for_original(timeout=WAIT)
    finally:
        for command in commands:
            command.remove_check(refuse)
    assert reply.ephemeral
    assert reply.content == "Diesen Befehl kannst du hier nicht verwenden."


async def test_once_the_token_expired_a_channel_post_is_the_servers_and_a_dm_the_members(
    french_server: Harness,
) -> None:
    world = french_server
    lea = world.member("lea")
    world.api.hold()
    it = await world.discord.run_slash_command(
        lea, world.general, "imagine", prompt="une horloge", locale="de"
    )
    await it.wait_for_original(lambda m: "Génération" in m.content, timeout=WAIT)
    world.discord.clock.advance(TOKEN_LIFETIME + 1)  # the API took over 15 minutes
    world.api.release()
    posted = await world.discord.wait_for_message(
        world.general, lambda m: bool(m.attachments) and lea.mention in m.content, timeout=WAIT
    )
    assert posted.content == f"{lea.mention}, votre image est prête.", "everyone reads it"
    assert labels(posted)[0][0] == "Relancer"

    quiet = world.guild.add_channel("calme")
    world.api.hold()
    it = await world.discord.run_slash_command(
        lea, quiet, "imagine", prompt="une porte fermée", locale="de"
    )
    await it.wait_for_original(lambda m: "Génération" in m.content, timeout=WAIT)
    quiet.set_permissions(world.guild.me, deny=Permission.SEND_MESSAGES)
    world.discord.clock.advance(TOKEN_LIFETIME + 1)
    world.api.release()
    told = await world.discord.wait_for_direct_message(
        lea, lambda m: "nichts berechnet" in m.content, timeout=WAIT
    )
    assert told.content == (
        f"Zu deiner Anfrage in {quiet.mention}: ⚠️ Das Bild ist fertig, aber ich konnte es "
        "hier nicht posten. Es wurde dir nichts berechnet."
    ), "only she reads it: her language"
    await world.running_bot.flow.wait_until_idle()
    assert await world.used_today(lea) == 1, "the first charged, the second refunded"


async def test_a_job_resumed_after_a_restart_is_still_posted_in_the_servers_language(
    french_server: Harness,
) -> None:
    """The new process has no interaction: the language comes from the job's record."""
    world = french_server
    marc = world.member("marc")
    world.api.hold()
    it = await world.discord.run_slash_command(
        marc, world.general, "imagine", prompt="un glacier lent", locale="de"
    )
    await it.wait_for_original(lambda m: "Génération" in m.content, timeout=WAIT)
    await world.running_bot.flow.shutdown(0)  # cut off mid-generation, as by a crash
    await world.stop_bot()
    world.discord.clock.advance(TOKEN_LIFETIME + 60)  # the interaction token is gone too
    world.api.release()
    await world.start_bot()
    posted = await world.discord.wait_for_message(
        world.general, lambda m: bool(m.attachments) and marc.mention in m.content, timeout=WAIT
    )
    assert posted.content == f"{marc.mention}, votre image est prête."
    assert "Taille" in fields(posted) and labels(posted)[0][0] == "Relancer"
    await world.running_bot.flow.wait_until_idle()
    assert await world.used_today(marc) == 1


async def test_a_catalog_that_does_not_parse_is_english_for_its_readers_and_syncs(
    world: Harness, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A typo in German's Plural-Forms: German readers get English, nobody an error."""
    po = tmp_path / "locales" / "de" / "LC_MESSAGES" / "imagine_bot.po"
    broken = po.read_bytes().replace(b"plural=(n != 1);", b"plural=(n != 1;")
    assert broken != po.read_bytes()
    po.write_bytes(broken)
    i18n.speech.cache_clear()
    caplog.set_level("ERROR", logger="bot.i18n")
    nina = world.member("nina")
    it = await world.discord.run_slash_command(
        nina, world.general, "imagine", prompt="ein Drachen", width=512, locale="de"
    )
    reply = await it.wait_for_original(timeout=WAIT)
    assert reply.ephemeral and reply.content.startswith(IN_ENGLISH), reply.content

    synced = world.discord.commands.find(world.guild.id, "quota")
    assert synced is not None
    required, synced["default_member_permissions"] = synced["default_member_permissions"], None
    try:  # refused by the permission check: the error handler speaks German, so English
        it = await world.discord.run_slash_command(
            nina, world.general, "quota set-default", limit=999, locale="de"
        )
        refused = await it.wait_for_original(timeout=WAIT)
    finally:
        synced["default_member_permissions"] = required
    assert refused.ephemeral and "**Manage Server**" in refused.content, refused.content

    await world.running_bot.sync_commands()  # every German description is asked for
    assert world.discord.commands.find(world.guild.id, "imagine") is not None
    world.discord.assert_no_errors()
    assert await world.used_today(nina) == 0
    reports = [r.getMessage() for r in caplog.records if "cannot be read" in r.getMessage()]
    assert len(reports) == 1 and str(po) in reports[0], "once, naming the file to fix"
