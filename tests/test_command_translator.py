"""The command translator's answers, string by string, from a catalog the test writes.

None means "Discord shows the English": for names, for languages the bot does not speak,
for English itself and for anything the catalog cannot give in a form Discord accepts.
"""

from __future__ import annotations

import gettext
import io

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from discord.app_commands import TranslationContextLocation as Where

from bot.i18n import LANGUAGES, Speech, catalog_id
from cogs.common.translator import CatalogTranslator, locale_str


def speech_with(catalog_name: str, entries: dict[str, str]) -> Speech:
    catalog = Catalog(locale=catalog_name)
    for msgid, msgstr in entries.items():
        catalog.add(msgid, msgstr)
    catalog.add("Fuzzy one", "Unsicher", flags=["fuzzy"])
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Speech(catalog_name, catalog_name, gettext.GNUTranslations(buffer))


GERMAN = speech_with(
    "de",
    {
        "Draw": "Zeichnen",
        "draw": "zeichnen",
        "Steps ({low}–{high})": "Schritte ({low}–{high})",
        "Guidance (default {default})": "Führung (Standard {default})",
        "Same words": "Same words",
        "Too long": "z" * 101,
        "Lost field ({count})": "Feld verloren",
        "Keep {days} days": "{days:d} Tage behalten",  # the filled number is text: ValueError
        "Named {who}": "Genannt {who!x}",  # no such conversion: ValueError
        "Wide {who}": "Breit {who:>{width}}",  # a field inside the spec: KeyError
    },
)
SPANISH = speech_with("es", {"Draw": "Dibujar"})


def translator() -> CatalogTranslator:
    by_catalog = {"de": GERMAN, "es": SPANISH}
    return CatalogTranslator(lambda code: by_catalog[catalog_id(code)])


def ask(text: locale_str, code: str, where: Where = Where.command_description) -> str | None:
    return translator().translated(text, code, where)


def test_descriptions_and_choice_names_come_from_the_catalog() -> None:
    assert ask(locale_str("Draw"), "de") == "Zeichnen"
    assert ask(locale_str("Draw"), "de", Where.parameter_description) == "Zeichnen"
    assert ask(locale_str("Draw"), "de", Where.group_description) == "Zeichnen"
    assert ask(locale_str("Draw"), "de", Where.choice_name) == "Zeichnen"
    assert ask(locale_str("Draw"), "es-ES") == ask(locale_str("Draw"), "es-419") == "Dibujar"


def test_a_translation_kept_in_the_same_words_is_still_a_translation() -> None:
    assert ask(locale_str("Same words"), "de") == "Same words"


@pytest.mark.parametrize(
    "where", [Where.command_name, Where.group_name, Where.parameter_name, Where.other]
)
def test_names_stay_english(where: Where) -> None:
    assert ask(locale_str("draw"), "de", where) is None


@pytest.mark.parametrize("code", ["en-US", "it", "ko", "es-ES"])
def test_english_unknown_languages_and_missing_messages_are_none(code: str) -> None:
    assert ask(locale_str("Steps ({low}–{high})", low=1, high=50), code) is None


def test_untranslated_and_fuzzy_entries_are_none() -> None:
    assert ask(locale_str("Never translated"), "de") is None
    assert ask(locale_str("Fuzzy one"), "de") is None


def test_fields_fill_the_english_and_the_translation_numbers_as_each_language_writes_them() -> None:
    text = locale_str("Guidance (default {default})", default=4.5)
    assert text.message == "Guidance (default 4.5)", "what Discord shows by default"
    assert ask(text, "de") == "Führung (Standard 4,5)"
    sizes = locale_str("Steps ({low}–{high})", low="256", high="2048")
    assert sizes.message == "Steps (256–2048)", "a str field is written as given"
    assert ask(sizes, "de") == "Schritte (256–2048)"


def test_too_long_or_placeholders_that_do_not_match_are_english_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert ask(locale_str("Too long"), "de") is None
    assert "101 characters" in caplog.text
    assert ask(locale_str("Lost field ({count})", count=3), "de") is None
    assert "placeholders do not match" in caplog.text


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("Keep {days} days", {"days": 30}),
        ("Named {who}", {"who": "Ada"}),
        ("Wide {who}", {"who": "Ada"}),
    ],
)
def test_a_translation_that_cannot_be_filled_is_english_with_a_warning(
    text: str, field: dict[str, object], caplog: pytest.LogCaptureFixture
) -> None:
    assert ask(locale_str(text, **field), "de") is None
    assert "cannot be filled" in caplog.text and text in caplog.text


def test_every_language_the_bot_speaks_is_a_discord_locale() -> None:
    import discord

    assert set(LANGUAGES) <= {locale.value for locale in discord.Locale}
