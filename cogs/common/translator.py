"""Command localizations: descriptions and choice names from the gettext catalogs.

Discord shows a command's ``description_localizations`` (and a choice's
``name_localizations``) to members whose client is in that language, and the plain
English to everyone else. discord.py asks an :class:`app_commands.Translator` for each
string and each of Discord's locales while syncing; :class:`CatalogTranslator` answers
from ``bot/i18n``'s catalogs.

What it never translates: command, group and option *names* (they stay English, so help,
docs and screenshots agree), and anything the catalog has no translation for. ``None``
means "use the English" to Discord, so a missing or unusable translation (too long for
Discord, placeholders that do not match or cannot be filled, such as ``{days:d}`` on a
number written out) is a warning and that one string stays English: never a failed sync,
which would stop the bot from starting.

Texts are marked with :class:`locale_str` (``pybabel extract -k locale_str``, see
docs/translating.md). It takes named fields like ``Speech.gettext``:
``locale_str("Steps ({low}–{high})", low=1, high=50)`` is sent to Discord as
"Steps (1–50)" and looked up in the catalogs as ``"Steps ({low}–{high})"``, so a
translation never hard-codes a number that may change. Numbers are written as each
language writes them; a ``str`` field (pixel sizes, names) is filled as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from string import Formatter
from typing import Any

from discord import Locale, app_commands
from discord.app_commands import TranslationContextLocation, TranslationContextTypes

from bot.i18n import ENGLISH, LANGUAGES, SOURCE, Speech, catalog_id, speech

log = logging.getLogger(__name__)

NEVER_TRANSLATED = frozenset(
    {
        TranslationContextLocation.command_name,
        TranslationContextLocation.group_name,
        TranslationContextLocation.parameter_name,
        TranslationContextLocation.other,
    }
)
"""Names stay English: Discord matches them, and help, docs and screenshots show them."""

MAX_LENGTH = {
    TranslationContextLocation.command_description: 100,
    TranslationContextLocation.group_description: 100,
    TranslationContextLocation.parameter_description: 100,
    TranslationContextLocation.choice_name: 100,
}
"""Discord's limits (1–100 characters); a translation past them would fail the sync."""


def _placeholders(text: str) -> set[str] | None:
    """The ``{name}`` fields ``text`` uses; None when it is not a valid format string."""
    try:
        return {name for _, name, _, _ in Formatter().parse(text) if name is not None}
    except ValueError:
        return None


def _filled(text: str, s: Speech, fields: dict[str, Any]) -> str:
    """``text`` with its ``{name}`` fields: numbers in ``s``'s form, strings as given."""
    if not fields:
        return text
    shown = {
        name: s.number(value)
        if isinstance(value, int | float) and not isinstance(value, bool)
        else str(value)
        for name, value in fields.items()
    }
    return text.format(**shown)


class locale_str(app_commands.locale_str):
    """A command text to translate: ``message`` is the catalog's msgid, ``fields`` fill it.

    Named like discord.py's class it extends, the keyword ``pybabel extract`` looks for.

    discord.py sends :attr:`message` as the English (so it is the filled text); the
    template stays in ``extras["msgid"]`` for the lookup.
    """

    def __init__(self, message: str, /, **fields: Any) -> None:
        super().__init__(_filled(message, ENGLISH, fields), msgid=message, fields=fields)


class CatalogTranslator(app_commands.Translator):
    """Descriptions and choice names in each language the bot speaks, from its catalogs.

    ``speech_for`` is how a Discord locale code becomes a :class:`Speech` (tests pass
    one reading a catalog of their own).
    """

    def __init__(self, speech_for: Callable[[str], Speech] = speech) -> None:
        self._speech_for = speech_for

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: Locale,
        context: TranslationContextTypes,
    ) -> str | None:
        return self.translated(string, locale.value, context.location)

    def translated(
        self, string: app_commands.locale_str, code: str, location: TranslationContextLocation
    ) -> str | None:
        """The text for Discord locale ``code``, or None for "show the English"."""
        if location in NEVER_TRANSLATED or code not in LANGUAGES:
            return None
        if catalog_id(code) == catalog_id(SOURCE):
            return None
        s: Speech = self._speech_for(code)
        msgid = string.extras.get("msgid", string.message)
        found = s.translation(msgid)
        if found is None:
            return None
        wanted = _placeholders(msgid)
        if wanted is None or _placeholders(found) != wanted:
            log.warning("catalog %s: placeholders do not match for %r", s.catalog, msgid)
            return None
        try:
            text = _filled(found, s, string.extras.get("fields") or {})
        except (ValueError, KeyError, IndexError, AttributeError) as error:
            # E.g. a format spec the value cannot take ("{days:d}" on a filled-in number):
            # one string in English, never a sync (and a start) that fails on it.
            log.warning(
                "catalog %s: the translation of %r cannot be filled (%s): English is shown instead",
                s.catalog,
                msgid,
                error,
            )
            return None
        limit = MAX_LENGTH.get(location, 100)
        if not 1 <= len(text) <= limit:
            log.warning(
                "catalog %s: the translation of %r is %d characters, Discord allows 1-%d: "
                "English is shown instead",
                s.catalog,
                msgid,
                len(text),
                limit,
            )
            return None
        return text
