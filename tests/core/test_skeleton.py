"""Blocked words cannot hide behind Unicode, and folding makes nothing innocent match."""

from __future__ import annotations

import string

import pytest
from confusable_homoglyphs import utils as homoglyph_data

from bot.policy import find_blocked_word, normalize_blocked_word
from bot.policy.skeleton import skeleton

ZWSP, SOFT_HYPHEN, ZWJ, ZWNJ, WORD_JOINER = "\u200b", "\u00ad", "\u200d", "\u200c", "\u2060"
VS16, CGJ, TAG_A, HANGUL_FILLER, RLO = "\ufe0f", "\u034f", "\U000e0061", "\u3164", "\u202e"


@pytest.mark.parametrize(
    "prompt",
    [
        "a g\u043ere scene",  # Cyrillic о
        "a G\u039fRE scene",  # Greek capital omicron
        "a g\u03bfre scene",  # Greek small omicron
        "a ｇｏｒｅ scene",  # fullwidth
        "a 𝐠𝐨𝐫𝐞 scene",  # mathematical bold
        "a 𝓰𝓸𝓻𝓮 scene",  # mathematical bold script
        "a ⓖⓞⓡⓔ scene",  # circled
        *(f"a go{c}re scene" for c in (ZWSP, SOFT_HYPHEN, ZWJ, ZWNJ, WORD_JOINER)),
        *(f"a gor{c}e scene" for c in (VS16, CGJ, TAG_A, HANGUL_FILLER, RLO)),
        f"a g\u043e{ZWSP}r\u0435 scene",  # both at once
        "a gore—blood scene",  # a dash stays a word boundary
    ],
)
def test_disguised_words_are_found(prompt: str) -> None:
    assert find_blocked_word(prompt, ["gore"]) == "gore"


def test_rules_written_with_lookalikes_catch_the_plain_spelling() -> None:
    assert find_blocked_word("a gore scene", ["g\u043ere"]) == "g\u043ere"
    assert find_blocked_word("a bad day", ["\u0432\u0430d"]) is None  # в is not b


def test_greek_capitals_read_as_the_latin_capitals_they_look_like() -> None:
    assert skeleton("\u039a\u0399LL") == "kill"  # Greek Κ and Ι
    assert skeleton("\u0392\u0391D") == "bad"  # Greek Β and Α


def test_invisible_characters_are_dropped_from_a_stored_rule() -> None:
    assert normalize_blocked_word(f"Go{ZWSP}re{VS16}") == "gore"


@pytest.mark.parametrize(
    ("prompt", "rule"),
    [
        ("el año nuevo", "ano"),  # accents are letters, not decoration
        ("un café noir", "cafe"),
        ("naïve art", "naive"),
        ("a bum on a bench", "burn"),  # ASCII is taken as typed: m is not rn
        ("a burning house", "bum"),
        ("a clogged drain", "dog"),  # nor d cl
        ("10 cats", "lo"),  # nor 1 l, 0 o
        ("a he11o sign", "hello"),
        ("a cl\u0430ssy lady", "ass"),  # folded letters keep word boundaries
        (f"cl{ZWSP}ass photo", "ass"),  # an invisible character joins, never splits
        ("4×4 truck", "4x4"),  # a symbol is not turned into a letter
        ("москва ночью", "mockba"),  # whole words only, across scripts as well
    ],
)
def test_folding_makes_no_innocent_prompt_match(prompt: str, rule: str) -> None:
    assert find_blocked_word(prompt, [rule]) is None


def test_ascii_is_left_as_typed_apart_from_case() -> None:
    text = string.printable
    assert skeleton(text) == text.casefold()


def test_every_confusable_class_in_the_packaged_data_has_one_prototype() -> None:
    """The data lists each link both ways; the fold relies on every class being a star
    around its prototype, so an upgrade that changes that shape must be noticed."""
    graph: dict[str, set[str]] = {}
    for char, glyphs in homoglyph_data.load("confusables.json").items():
        for glyph in glyphs:
            graph.setdefault(char, set()).add(glyph["c"])
            graph.setdefault(glyph["c"], set()).add(char)
    for node, neighbours in graph.items():
        if len(neighbours) > 1:
            assert all(graph[n] == {node} for n in neighbours), node
