"""Test-only catalogs: a few translations written to a temporary folder and read by the bot.

The real translations are written by translators, and a test must not depend on how they
word a text; yet a test should fail if a reply is not in the reader's language. So a test
writes its own small catalog here (a real ``.po`` written with Babel, read by the bot
exactly as it reads shipped ones), points ``bot.i18n.LOCALES_DIR`` at it, and checks that
its translation is what the member reads.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po

from bot import i18n

Msgid = str | tuple[str, str]
"""A text, or a (singular, plural) pair for ngettext."""
Msgstr = str | tuple[str, ...]
"""Its translation, or its plural forms in the language's order; forms left out repeat the
last one given (Babel's French has three: one, many, other)."""


def write_catalogs(folder: Path, catalogs: Mapping[str, Mapping[Msgid, Msgstr]]) -> None:
    """``catalogs``: catalog id (``de``, ``pt_BR``…) → msgid → translation."""
    for catalog_id, translations in catalogs.items():
        catalog = Catalog(locale=catalog_id, domain=i18n.DOMAIN)
        for msgid, msgstr in translations.items():
            if isinstance(msgstr, tuple):  # CLDR may want more forms (French: one, many, other)
                msgstr = (*msgstr, *[msgstr[-1]] * (catalog.num_plurals - len(msgstr)))
            catalog.add(msgid, msgstr)
        target = folder / catalog_id / "LC_MESSAGES"
        target.mkdir(parents=True, exist_ok=True)
        with (target / f"{i18n.DOMAIN}.po").open("wb") as po:
            write_po(po, catalog)


@contextmanager
def installed(
    monkeypatch: pytest.MonkeyPatch, folder: Path, catalogs: Mapping[str, Mapping[Msgid, Msgstr]]
) -> Iterator[None]:
    """The bot speaks from ``catalogs`` inside the block, from its own catalogs after."""
    write_catalogs(folder, catalogs)
    try:
        with monkeypatch.context() as patch:
            patch.setattr(i18n, "LOCALES_DIR", folder)
            i18n.speech.cache_clear()
            yield
    finally:
        i18n.speech.cache_clear()  # no Speech read from the fake catalogs outlives them
