"""Which file a language is read from: a shipped ``.mo`` only when it was made from the
``.po`` beside it, else the ``.po`` itself (a fresh clone needs no compile step)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import write_po

from bot import i18n


def po_bytes(translation: str) -> bytes:
    catalog = Catalog(locale="de", domain=i18n.DOMAIN)
    catalog.add("Hello", translation)
    buffer = io.BytesIO()
    write_po(buffer, catalog)
    return buffer.getvalue()


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(i18n, "LOCALES_DIR", tmp_path)
    target = tmp_path / "de" / "LC_MESSAGES"
    target.mkdir(parents=True)
    return target


def test_a_po_alone_is_compiled_in_memory(folder: Path) -> None:
    (folder / "imagine_bot.po").write_bytes(po_bytes("Hallo"))
    assert i18n._compiled("de").gettext("Hello") == "Hallo"


def test_a_mo_made_from_this_po_is_used_as_shipped(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = po_bytes("Hallo")
    (folder / "imagine_bot.po").write_bytes(source)
    (folder / "imagine_bot.mo").write_bytes(i18n.compile_po(source, "de"))

    def no_compiling(*_: object) -> bytes:
        raise AssertionError("compiled again although the shipped .mo is current")

    monkeypatch.setattr(i18n, "compile_po", no_compiling)
    assert i18n._compiled("de").gettext("Hello") == "Hallo"


def test_a_mo_left_from_an_older_po_never_shadows_the_new_one(folder: Path) -> None:
    (folder / "imagine_bot.mo").write_bytes(i18n.compile_po(po_bytes("Alt"), "de"))
    (folder / "imagine_bot.po").write_bytes(po_bytes("Neu"))
    assert i18n._compiled("de").gettext("Hello") == "Neu"


def test_a_mo_compiled_by_hand_without_the_stamp_yields_to_the_po(folder: Path) -> None:
    catalog = Catalog(locale="de")
    catalog.add("Hello", "Von Hand")
    with (folder / "imagine_bot.mo").open("wb") as mo:
        write_mo(mo, catalog)
    (folder / "imagine_bot.po").write_bytes(po_bytes("Aus der Quelle"))
    assert i18n._compiled("de").gettext("Hello") == "Aus der Quelle"


def test_a_mo_alone_is_read_and_no_catalog_is_english(folder: Path) -> None:
    assert i18n._compiled("de").gettext("Hello") == "Hello"
    (folder / "imagine_bot.mo").write_bytes(i18n.compile_po(po_bytes("Hallo"), "de"))
    assert i18n._compiled("de").gettext("Hello") == "Hallo"


def speech_reading(folder: Path, entries: dict[str, str]) -> i18n.Speech:
    catalog = Catalog(locale="de", domain=i18n.DOMAIN)
    for msgid, msgstr in entries.items():
        catalog.add(msgid, msgstr)
    with (folder / "imagine_bot.po").open("wb") as po:
        write_po(po, catalog)
    return i18n.Speech("de", "de", i18n._compiled("de"))


@pytest.mark.parametrize(
    "translation",
    [
        "Noch {days:d} Tage",  # a spec the written-out number cannot take: ValueError
        "Noch {days.real} Tage",  # an attribute a str does not have: AttributeError
        "Noch {tage} Tage",  # a name the code does not give: KeyError
        "Noch {0} Tage",  # positional: IndexError
    ],
)
def test_a_translation_that_cannot_be_filled_is_that_message_in_english(
    folder: Path, translation: str, caplog: pytest.LogCaptureFixture
) -> None:
    s = speech_reading(folder, {"{days} days left": translation})
    assert s.gettext("{days} days left", days=s.number(12)) == "12 days left"
    assert "placeholders do not match" in caplog.text and "days left" in caplog.text


GOOD_PO = po_bytes("Hallo")


@pytest.mark.parametrize(
    "broken",
    [
        GOOD_PO.replace(b"plural=(n != 1);", b"plural=(n != 1;"),  # a Plural-Forms typo
        GOOD_PO.replace(b"Hallo", b"Gr\xf6\xdfe"),  # Latin-1 bytes in a UTF-8 catalog
        GOOD_PO.replace(b"Language: de", b"Language: de_XX-foo"),  # no such locale
        GOOD_PO.replace(b"charset=utf-8", b"charset=utf-9"),  # no such charset
    ],
    ids=["plural-forms", "not-utf-8", "language", "charset"],
)
def test_a_catalog_that_does_not_parse_is_english_reported_once_with_its_file(
    folder: Path, broken: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    assert broken != GOOD_PO
    (folder / "imagine_bot.po").write_bytes(broken)
    i18n.speech.cache_clear()
    try:
        with caplog.at_level("ERROR", logger="bot.i18n"):
            for code in ("de", "de", "es-ES"):  # es reads no catalog here: English anyway
                s = i18n.speech(code)
                assert s.gettext("Hello") == "Hello"
                assert s.ngettext("{count} day", "{count} days", 2) == "2 days"
            i18n.speech.cache_clear()
            assert i18n.speech("de").gettext("Hello") == "Hello"
    finally:
        i18n.speech.cache_clear()
    reports = [r.getMessage() for r in caplog.records if "cannot be read" in r.getMessage()]
    assert len(reports) == 1, reports
    assert str(folder / "imagine_bot.po") in reports[0]


def test_a_damaged_shipped_mo_yields_to_the_po_beside_it(folder: Path) -> None:
    (folder / "imagine_bot.mo").write_bytes(b"\x00not a mo file at all")
    (folder / "imagine_bot.po").write_bytes(GOOD_PO)
    assert i18n._compiled("de").gettext("Hello") == "Hallo"
