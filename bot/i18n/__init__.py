"""The bot's languages: one gettext catalog per language, English as the source.

Every text a member, moderator or owner reads in Discord is an English ``msgid`` in the
code, marked with ``_``/``ngettext``/``N_`` so ``pybabel extract`` finds it, and
translated in ``bot/i18n/locales/<lang>/LC_MESSAGES/imagine_bot.po`` (docs/translating.md).

A :class:`Speech` is one language's voice: ``speech.gettext("It resets {when}.", when=…)``
looks the text up and fills its named placeholders. A message missing from a catalog, or
a translation whose placeholders do not match, falls back to the English text for that one
message: a gap in a translation is never a crash.

Catalogs are read from compiled ``.mo`` files where the build shipped them (wheels and the
Docker image compile them, see ``setup.py``, each stamped with the digest of its ``.po``);
a source checkout without them compiles the ``.po`` in memory once, so a fresh clone runs
and tests without a manual compile step.
"""

from __future__ import annotations

import gettext
import hashlib
import io
import logging
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError, dates, numbers

log = logging.getLogger(__name__)

DOMAIN = "imagine_bot"
LOCALES_DIR = Path(__file__).with_name("locales")
SOURCE = "en-US"

LANGUAGES: dict[str, str] = {
    "en-US": "en",
    "en-GB": "en_GB",
    "de": "de",
    "fr": "fr",
    "es-ES": "es",
    "es-419": "es",
    "pt-BR": "pt_BR",
    "ja": "ja",
}
"""Discord's locale codes the bot speaks, and the catalog (a Babel locale id) each reads
for its words; numbers, dates and money follow the code itself (:attr:`Speech.locale`)."""

REQUIRED = ("de", "fr", "es-ES", "pt-BR", "ja")
"""The languages whose catalogs must be complete (tests/core/test_catalogs.py)."""

CHOOSABLE: dict[str, str] = {
    "de": "Deutsch",
    "fr": "Français",
    "es-ES": "Español",
    "pt-BR": "Português (Brasil)",
    "ja": "日本語",
    "en-US": "English",
}
"""What moderators may pick with ``/settings language``: each language in its own name
(a reader looks for their language's own name, whatever language the list is shown in)."""


def catalog_id(discord_locale: str | None) -> str:
    """The catalog a Discord locale reads: its own, else English."""
    return LANGUAGES.get(discord_locale or SOURCE, "en")


def N_(message: str) -> str:
    """Mark ``message`` for extraction where it is defined; translate it where it is shown."""
    return message


STAMP_CONTEXT, STAMP_ID = "imagine-bot", "source-sha256"
"""Where a compiled ``.mo`` records the ``.po`` it was made from (a context no text uses)."""


def _digest(po_bytes: bytes) -> str:
    return hashlib.sha256(po_bytes).hexdigest()


def compile_po(po_bytes: bytes, catalog: str) -> bytes:
    """The ``.mo`` of a catalog's ``.po``, stamped with the ``.po``'s SHA-256.

    The build (``setup.py``) ships these; :func:`_compiled` uses a shipped ``.mo`` only
    when its stamp is the ``.po``'s digest, so an edited catalog is never shadowed by an
    old compile, whatever the files' times (installers do not keep them).
    """
    from babel.messages.mofile import write_mo  # only building and source checkouts need these
    from babel.messages.pofile import read_po

    parsed = read_po(io.BytesIO(po_bytes), locale=catalog)
    parsed.add(STAMP_ID, _digest(po_bytes), context=STAMP_CONTEXT)
    buffer = io.BytesIO()
    write_mo(buffer, parsed)
    return buffer.getvalue()


_UNREADABLE_REPORTED: set[tuple[Path, str]] = set()
"""Catalogs already reported unreadable (file, error), so each is logged once, not once
per Discord locale reading it (es-ES and es-419) or per cache clear."""


def _compiled(catalog: str) -> gettext.NullTranslations:
    """The catalog's translations, or none (English) when its files cannot be read.

    A catalog that does not parse (a Plural-Forms typo, bytes that are not its charset, a
    Language header Babel does not know, a damaged ``.mo``) must not make every text of
    that language raise, the error handler's included, nor fail the command sync: it is
    reported once, with the file, and the language is spoken in English until it is fixed.
    """
    folder = LOCALES_DIR / catalog / "LC_MESSAGES"
    try:
        return _read_catalog(folder, catalog)
    except Exception as error:  # whatever Babel or gettext raise for a bad file
        where = folder / f"{DOMAIN}.po"
        where = where if where.exists() else folder / f"{DOMAIN}.mo"
        if (where, repr(error)) not in _UNREADABLE_REPORTED:
            _UNREADABLE_REPORTED.add((where, repr(error)))
            log.error(
                "catalog %s cannot be read (%s: %s): its language is spoken in English "
                "until the file is fixed (docs/translating.md)",
                where,
                type(error).__name__,
                error,
            )
        return gettext.NullTranslations()


def _read_catalog(folder: Path, catalog: str) -> gettext.NullTranslations:
    """The shipped ``.mo`` made from this very ``.po``, else the ``.po`` compiled in
    memory (a source checkout, or a ``.mo`` left from an old one); none if neither."""
    mo_path, po_path = folder / f"{DOMAIN}.mo", folder / f"{DOMAIN}.po"
    if not po_path.exists():
        if not mo_path.exists():
            return gettext.NullTranslations()
        with mo_path.open("rb") as mo:
            return gettext.GNUTranslations(mo)
    source = po_path.read_bytes()
    if mo_path.exists():
        try:
            with mo_path.open("rb") as mo:
                shipped: gettext.NullTranslations | None = gettext.GNUTranslations(mo)
        except Exception:  # a damaged .mo: the .po beside it is the source anyway
            shipped = None
        if shipped is not None and shipped.pgettext(STAMP_CONTEXT, STAMP_ID) == _digest(source):
            return shipped
    return gettext.GNUTranslations(io.BytesIO(compile_po(source, catalog)))


@dataclass(frozen=True)
class Speech:
    """The bot speaking one language: translation plus the locale's number and date forms."""

    discord_locale: str
    catalog: str
    translations: gettext.NullTranslations

    @property
    def locale(self) -> Locale:
        """The locale numbers, dates, lists and money are written in: the Discord code's
        own, not its catalog's. es-419 reads the ``es`` catalog but writes 1,234.5 and
        USD as Latin America does, not as Spain (1.234,5 · US$); en-GB its own dates."""
        return _formats(self.discord_locale, self.catalog)

    def gettext(self, message: str, /, **fields: Any) -> str:
        """``message`` in this language, its ``{name}`` placeholders filled from ``fields``."""
        return self._fill(self.translations.gettext(message), message, fields)

    def ngettext(self, singular: str, plural: str, count: int, /, **fields: Any) -> str:
        """The form of ``singular``/``plural`` this language uses for ``count``; ``{count}``
        is filled (as a number of this locale) along with ``fields``."""
        translated = self.translations.ngettext(singular, plural, count)
        fields.setdefault("count", self.number(count))
        return self._fill(translated, singular if count == 1 else plural, fields)

    def translation(self, message: str, /) -> str | None:
        """The catalog's own translation of ``message``, unfilled; None when it has none.

        For callers that must tell "not translated" from "translated as the same words"
        (command localizations: None there means Discord shows the English).
        ``GNUTranslations`` keeps only non-empty, non-fuzzy entries in ``_catalog``.
        """
        table: dict[object, str] = getattr(self.translations, "_catalog", {})
        return table.get(message) or None

    def number(self, value: int | float) -> str:
        """A number as this language writes it (1,234 · 1.234 · 1 234)."""
        return numbers.format_decimal(value, locale=self.locale)

    def date(self, value: date) -> str:
        """A calendar date in this language's short form."""
        return dates.format_date(value, format="short", locale=self.locale)

    def _fill(self, translated: str, source: str, fields: dict[str, Any]) -> str:
        if not fields:
            return translated
        try:
            return translated.format(**fields)
        except (KeyError, IndexError, ValueError, AttributeError):
            # A name the code does not give, "{0}", a spec the value cannot take
            # ("{days:d}" on a written-out number), "{name.attr}": this message in English.
            log.warning("catalog %s: placeholders do not match for %r", self.catalog, source)
            return source.format(**fields)


@cache
def _formats(discord_locale: str, catalog: str) -> Locale:
    """The Babel locale of a Discord code (``es-419`` → ``es_419``), else the catalog's."""
    try:
        return Locale.parse(discord_locale, sep="-")
    except (ValueError, UnknownLocaleError):  # not a code Babel knows: the catalog's forms
        return Locale.parse(catalog)


@cache
def speech(discord_locale: str | None = None) -> Speech:
    """How the bot speaks to someone whose Discord is in ``discord_locale`` (None: English)."""
    code = discord_locale if discord_locale in LANGUAGES else SOURCE
    catalog = catalog_id(code)
    return Speech(discord_locale=code, catalog=catalog, translations=_compiled(catalog))


ENGLISH = speech(SOURCE)
