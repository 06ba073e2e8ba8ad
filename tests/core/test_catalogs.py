"""The message catalogs: a template that matches the code, complete and faithful translations.

Everything is read with Babel (``babel.messages``): the template is extracted from the
code exactly as the documented ``pybabel extract`` command does (babel.cfg, the same
keywords and comment tag), and each catalog is read with ``read_po``. What is checked,
for every language in ``bot.i18n.REQUIRED``:

- every text of the code is translated: not empty, not fuzzy, every plural form;
- a translation uses the placeholders of its source (``{count}``, ``{name}``…), each
  with the source's conversion and format spec (none, so far), each plural form those of
  the singular or the plural;
- Markdown reads the same: as many ``**``, backticks, ``||``, ``~~`` and ``](`` links;
- a text whose translator comment names a length ("at most 45 characters") fits it,
  placeholders left out (what fills them is not known here; command descriptions and
  choices are also checked filled, as synced: tests/e2e/test_command_localizations.py).

How to fix each failure is in docs/translating.md; the messages below say it too.
"""

from __future__ import annotations

import gettext
import io
import re
from collections.abc import Iterator
from pathlib import Path
from string import Formatter

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

from bot.i18n import DOMAIN, LOCALES_DIR, REQUIRED, catalog_id, compile_po

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = LOCALES_DIR / f"{DOMAIN}.pot"
EXTRACT = (
    "pybabel extract -F babel.cfg -k N_ -k locale_str -c TRANSLATORS: -w 100 "
    '--project=imagine-bot --copyright-holder="imagine-bot contributors" '
    "-o bot/i18n/locales/imagine_bot.pot ."
)
UPDATE = (
    "pybabel update -i bot/i18n/locales/imagine_bot.pot -d bot/i18n/locales -D imagine_bot -w 100"
)
MARKERS = ("**", "`", "||", "~~", "](")
"""Markdown a translation must keep as its source has it (counted, not parsed)."""
LIMIT = re.compile(r"at most (\d+)|(\d+) (?:characters|chars) at most")


def po_path(code: str) -> Path:
    return LOCALES_DIR / catalog_id(code) / "LC_MESSAGES" / f"{DOMAIN}.po"


MISSING = [language for language in REQUIRED if not po_path(language).exists()]
"""Required languages with no catalog yet: their tests are expected to fail (xfail)."""


def extracted(tmp_dir: Path) -> Catalog:
    """What ``pybabel extract`` finds in the code now (the documented command, in-process)."""
    output = tmp_dir / "extracted.pot"
    CommandLineInterface().run(
        [
            "pybabel",
            "-q",
            "extract",
            "-F",
            str(REPO / "babel.cfg"),
            "-k",
            "N_",
            "-k",
            "locale_str",
            "-c",
            "TRANSLATORS:",
            "-o",
            str(output),
            str(REPO),
        ]
    )
    with output.open("rb") as pot:
        return read_po(pot)


@pytest.fixture(scope="module")
def in_code(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    return extracted(tmp_path_factory.mktemp("extract"))


def read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as po:
        return read_po(po, locale=locale)


def texts(catalog: Catalog) -> Iterator[Message]:
    return (message for message in catalog if message.id)


def key(message: Message) -> tuple[object, str | None]:
    return message.id, message.context


def forms(message: Message) -> tuple[str, ...]:
    string = message.string
    return tuple(string) if isinstance(string, list | tuple) else (str(string or ""),)


def sources(message: Message) -> tuple[str, ...]:
    return tuple(message.id) if isinstance(message.id, list | tuple) else (str(message.id),)


def placeholders(text: str) -> set[str] | None:
    """The ``{name}`` fields of ``text``; None when braces do not make a format string."""
    try:
        return {name for _, name, _, _ in Formatter().parse(text) if name is not None}
    except ValueError:
        return None


def fields_as_written(text: str) -> set[str] | None:
    """Each field of ``text`` whole, conversion and format spec included (``{days:d}``,
    ``{name!r}``): a translation must ask for exactly what its source asks for, since a
    spec the filled value cannot take fails the message (an English fallback at best, a
    failed command sync at worst). None when braces do not make a format string."""
    try:
        return {
            "{"
            + name
            + (f"!{conversion}" if conversion else "")
            + (f":{spec}" if spec else "")
            + "}"
            for _, name, spec, conversion in Formatter().parse(text)
            if name is not None
        }
    except ValueError:
        return None


def comment(message: Message) -> str:
    """The translator comment, as one line (the template's wrapping is no change)."""
    return " ".join(" ".join(message.auto_comments).split())


def limit_of(message: Message) -> int | None:
    """The length a translator comment names for this text (its first), if any."""
    found = LIMIT.search(comment(message))
    return int(found.group(1) or found.group(2)) if found else None


def fixed_length(text: str) -> int:
    """A text's length without its placeholders: what is filled in must fit the rest
    (an image number, a name), so only the fixed words can be held against a limit."""
    return sum(len(literal) for literal, _, _, _ in Formatter().parse(text))


# -- the template ----------------------------------------------------------------------------


def test_the_template_has_every_text_of_the_code_and_nothing_else(in_code: Catalog) -> None:
    template = read(TEMPLATE)
    wanted = {key(m): comment(m) for m in texts(in_code)}
    have = {key(m): comment(m) for m in texts(template)}
    new = sorted(repr(k[0]) for k in wanted.keys() - have.keys())
    gone = sorted(repr(k[0]) for k in have.keys() - wanted.keys())
    comments = sorted(repr(k[0]) for k in wanted.keys() & have.keys() if wanted[k] != have[k])
    assert not (new or gone or comments), (
        "bot/i18n/locales/imagine_bot.pot is out of date with the code. Extract it again:\n"
        f"    {EXTRACT}\nthen bring the catalogs up to date:\n    {UPDATE}\n"
        f"new texts: {new}\ntexts no longer in the code: {gone}\n"
        f"translator comments changed: {comments}"
    )


def test_every_source_text_fits_the_limit_its_comment_names(in_code: Catalog) -> None:
    too_long = [
        f"{text!r} is {fixed_length(text)} characters, its comment says at most {limit}"
        for message in texts(in_code)
        if (limit := limit_of(message)) is not None
        for text in sources(message)
        if fixed_length(text) > limit
    ]
    assert too_long == []


def test_every_source_text_is_a_format_string_with_named_fields(in_code: Catalog) -> None:
    broken = [
        repr(text)
        for message in texts(in_code)
        for text in sources(message)
        if (fields := placeholders(text)) is None
        or "" in fields
        or any(f.isdigit() for f in fields)
    ]
    assert broken == [], "named placeholders only: {count}, never {} or {0}"


# -- each catalog ----------------------------------------------------------------------------


requires_catalog = pytest.mark.parametrize(
    "language",
    [
        pytest.param(
            language,
            marks=pytest.mark.xfail(
                language in MISSING, reason="catalogs not translated yet", strict=True
            ),
        )
        for language in REQUIRED
    ],
)


def catalog_for(language: str) -> Catalog:
    path = po_path(language)
    assert path.exists(), (
        f"no catalog for {language}: pybabel init -i bot/i18n/locales/imagine_bot.pot "
        f"-d bot/i18n/locales -D imagine_bot -l {catalog_id(language)}"
    )
    return read(path, catalog_id(language))


@requires_catalog
def test_the_catalog_compiles_as_the_bot_reads_it(language: str) -> None:
    """The bot would speak an unreadable catalog's language in English (and log it): a
    Plural-Forms typo, bytes that are not UTF-8 or an unknown Language header fail here."""
    path = po_path(language)
    assert path.exists(), f"no catalog for {language}"
    try:
        translations = gettext.GNUTranslations(
            io.BytesIO(compile_po(path.read_bytes(), catalog_id(language)))
        )
    except Exception as error:
        pytest.fail(f"{path.relative_to(REPO)} cannot be read: {type(error).__name__}: {error}")
    assert translations.info().get("language") == catalog_id(language), "its Language header"


@requires_catalog
def test_every_text_of_the_code_is_translated(language: str, in_code: Catalog) -> None:
    catalog = catalog_for(language)
    missing: list[str] = []
    for message in texts(in_code):
        found = catalog.get(message.id, message.context)
        if found is None:
            missing.append(f"not in the catalog: {message.id!r}")
        elif found.fuzzy:
            missing.append(f"fuzzy (check it, then drop the flag): {message.id!r}")
        elif not all(forms(found)):
            missing.append(f"untranslated: {message.id!r}")
        elif found.pluralizable and len(forms(found)) != catalog.num_plurals:
            missing.append(f"{catalog.num_plurals} plural forms wanted: {message.id!r}")
    assert missing == [], (
        f"{po_path(language).relative_to(REPO)} is incomplete (update it with: {UPDATE}):\n"
        + "\n".join(missing)
    )


def placeholder_problems(catalog: Catalog) -> list[str]:
    """Each translation of ``catalog`` whose fields are not its source's, as written."""
    wrong: list[str] = []
    for message in texts(catalog):
        if not any(forms(message)):
            continue
        wanted = [fields_as_written(text) for text in sources(message)]
        for form in forms(message):
            got = fields_as_written(form)
            if got is None:
                wrong.append(f"{form!r}: braces that are no placeholder (write {{{{ }}}})")
            elif got not in wanted:
                wrong.append(
                    f"{form!r} has {sorted(got)}, {message.id!r} has {sorted(wanted[-1] or ())}"
                )
    return wrong


@requires_catalog
def test_translations_keep_the_placeholders_of_their_source(language: str) -> None:
    wrong = placeholder_problems(catalog_for(language))
    assert wrong == [], "placeholders must be the source's, as written:\n" + "\n".join(wrong)


def test_a_format_spec_or_conversion_the_source_lacks_is_a_wrong_placeholder() -> None:
    catalog = Catalog(locale="de")
    catalog.add("Keep {days} days", "{days:d} Tage behalten")
    catalog.add("Named {who}", "Genannt {who!r}")
    catalog.add("Kept {days} days", "{days} Tage behalten")
    catalog.add(("{count} image", "{count} images"), ("{count} Bild", "{count:>3} Bilder"))
    assert placeholder_problems(catalog) == [
        "'{days:d} Tage behalten' has ['{days:d}'], 'Keep {days} days' has ['{days}']",
        "'Genannt {who!r}' has ['{who!r}'], 'Named {who}' has ['{who}']",
        "'{count:>3} Bilder' has ['{count:>3}'], ('{count} image', '{count} images') has "
        "['{count}']",
    ]


@requires_catalog
def test_translations_keep_the_markdown_of_their_source(language: str) -> None:
    wrong: list[str] = []
    for message in texts(catalog_for(language)):
        source = sources(message)[-1]
        for form in forms(message):
            if not form:
                continue
            for marker in MARKERS:
                if form.count(marker) != source.count(marker):
                    wrong.append(
                        f"{form!r}: {form.count(marker)}× {marker!r}, the source has "
                        f"{source.count(marker)}× ({message.id!r})"
                    )
    assert wrong == [], "Markdown must read as the source's:\n" + "\n".join(wrong)


@requires_catalog
def test_translations_fit_discords_limits(language: str, in_code: Catalog) -> None:
    catalog = catalog_for(language)
    too_long = [
        f"{form!r} is {fixed_length(form)} characters, at most {limit} fit ({message.id!r})"
        for message in texts(in_code)
        if (limit := limit_of(message)) is not None
        and (found := catalog.get(message.id, message.context)) is not None
        for form in forms(found)
        if placeholders(form) is not None and fixed_length(form) > limit
    ]
    assert too_long == [], "Discord refuses longer texts there:\n" + "\n".join(too_long)
