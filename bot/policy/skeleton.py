"""Fold text to a look-alike skeleton, so a blocked word cannot hide behind Unicode.

In the spirit of Unicode's confusable skeletons (UTS #39): two strings that a reader
cannot tell apart fold to the same skeleton. The fold is applied to the prompt and to
the rule alike, and only ever compared, never shown: the member is told the rule as the
moderator wrote it.

The steps, and why each is there:

1. NFKC: compatibility forms become plain ones (fullwidth ``ｂａｄ``, mathematical
   ``𝐛𝐚𝐝``, ligatures, circled and superscript letters).
2. Default-ignorable code points are dropped: zero-width space and joiners, soft hyphen,
   word joiner, bidi controls, variation selectors, tag characters, Hangul fillers.
   They draw nothing, so "bad" with a zero-width space inside reads as "bad".
3. NFD, then every character outside ASCII is replaced by the prototype of its
   confusable class (Cyrillic ``а`` → ``a``, Greek ``ο`` → ``o``, ``ı`` → ``i``);
   casefold, so case never matters; and NFC puts accents back on their letters.

What it deliberately does not fold, to keep innocent prompts innocent:

- ASCII is taken as typed. Unicode's data also says ``m`` looks like ``rn``, ``d`` like
  ``cl`` and ``1`` like ``l``; folding those would make "bum" match a rule "burn" and
  "clog" a rule "dog". Look-alikes *from other scripts* are the disguise this undoes.
- Accents stay: "año" does not become "ano". Combining marks are never remapped.
- A character keeps its kind: a letter is only replaced by letters or digits and a
  symbol only by symbols, so folding never joins two words ("gore—blood" keeps its dash
  a dash) nor splits one.

The confusable classes come from Unicode's ``confusables.txt`` as packaged by
``confusable_homoglyphs`` (read from the installed package, no network).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

from confusable_homoglyphs import utils as _homoglyph_data

_BIDI_MARKS = str.maketrans("", "", "\u200e\u200f")
"""The packaged data shows right-to-left glyphs wrapped in direction marks; not part of them."""

_OTHER_IGNORABLE: tuple[tuple[int, int], ...] = (
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x115F, 0x1160),  # Hangul choseong/jungseong fillers
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180B, 0x180F),  # Mongolian free variation selectors and vowel separator
    (0x2065, 0x2065),
    (0x3164, 0x3164),  # Hangul filler
    (0xFE00, 0xFE0F),  # variation selectors
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
    (0xFFF0, 0xFFF8),
    (0xE0000, 0xE0FFF),  # tags and variation selectors supplement
)
"""Default_Ignorable_Code_Point (Unicode's DerivedCoreProperties) beyond format characters:
every format character (category Cf) is dropped too, which covers the rest of the property
(zero-width space, joiners, soft hyphen, bidi controls, word joiner, BOM)."""

_WORD = re.compile(r"\w+")
_NON_WORD = re.compile(r"\W+")


def _ignorable(char: str) -> bool:
    point = ord(char)
    if any(low <= point <= high for low, high in _OTHER_IGNORABLE):
        return True
    return unicodedata.category(char) == "Cf"


def _same_kind(char: str, replacement: str) -> bool:
    """Whether swapping ``char`` for ``replacement`` keeps word boundaries where they were."""
    kind = _WORD if _WORD.fullmatch(char) else _NON_WORD
    return kind.fullmatch(replacement) is not None


def _prototype(members: set[str], graph: Mapping[str, set[str]]) -> str:
    """The one spelling a confusable class folds to: its ASCII letter where it has one.

    The packaged data links every character to the prototype of its class in both
    directions, so each class is a star around its prototype (checked by the tests);
    a class of two has no centre and is settled by the ASCII, then the longer, then the
    lower spelling, which only needs to be the same for the prompt and the rule.
    """
    centres = [m for m in members if len(graph[m]) > 1] or [
        min(members, key=lambda m: (not m.isascii(), -len(m), m))
    ]
    centre = centres[0]
    if len(centre) == 1 and centre.isascii():
        return centre
    ascii_letters = sorted(m for m in members if len(m) == 1 and m.isascii())
    return ascii_letters[0] if ascii_letters else centre


def build_table(data: Mapping[str, Iterable[Mapping[str, str]]]) -> dict[str, str]:
    """Character → replacement, from ``confusable_homoglyphs``' {char: [{"c": glyph}]} data."""
    graph: dict[str, set[str]] = {}
    for char, glyphs in data.items():
        node = char.translate(_BIDI_MARKS)
        for glyph in glyphs:
            other = glyph["c"].translate(_BIDI_MARKS)
            graph.setdefault(node, set()).add(other)
            graph.setdefault(other, set()).add(node)
    table: dict[str, str] = {}
    seen: set[str] = set()
    for start in graph:
        if start in seen:
            continue
        members: set[str] = set()
        stack = [start]
        while stack:
            node = stack.pop()
            if node not in members:
                members.add(node)
                stack.extend(graph[node])
        seen |= members
        prototype = unicodedata.normalize("NFD", _prototype(members, graph).casefold())
        # The class of l, I, 1 and | holds both cases of ASCII: a capital from another
        # script (Greek Ι) is left to be read in its small form (ι → i) after casefolding.
        ascii_forms = {m.casefold() for m in members if len(m) == 1 and m.isascii()}
        for member in members:
            if (
                len(member) == 1
                and not member.isascii()
                and member != prototype
                and not unicodedata.category(member).startswith("M")
                and _same_kind(member, prototype)
                and not (len(ascii_forms) > 1 and member.casefold() != member)
            ):
                table[member] = prototype
    return table


_TABLE = build_table(_homoglyph_data.load("confusables.json"))


def _replace(text: str) -> str:
    folded: list[str] = []
    for char in unicodedata.normalize("NFD", text):
        if char.isascii():
            folded.append(char)
        elif not _ignorable(char):
            folded.append(_TABLE.get(char, char))
    return "".join(folded)


def skeleton(text: str) -> str:
    """``text`` folded so that look-alike spellings compare equal (see the module doc).

    Look-alikes are replaced before and after casefolding: before, because a capital
    is what it looks like (Greek ``Β`` is a B, though its small form ``β`` is not), and
    after, for small forms that only casefolding produces.
    """
    text = _replace(unicodedata.normalize("NFKC", text)).casefold()
    return unicodedata.normalize("NFC", _replace(text).casefold())


def strip_ignorable(text: str) -> str:
    """``text`` without the characters that draw nothing (zero-width, joiners, selectors)."""
    return "".join(char for char in text if char.isascii() or not _ignorable(char))
