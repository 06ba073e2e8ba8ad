"""Member-written text is escaped within Discord's limits, and the oracle sees markdown."""

from __future__ import annotations

import pytest

from cogs.common.messages import code_block, typed
from tests.emulators.discord.markdown import constructs, rendered


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("[x](https://a.example)", "masked link"),
        ("# title", "heading"),
        ("-# small", "subtext"),
        ("1. first", "list"),
        ("> quote", "block quote"),
        ("||hidden||", "spoiler"),
        ("**loud**", "emphasis"),
        ("<@123>", "mention"),
        ("```x```", "code block"),
    ],
)
def test_each_construct_is_seen_then_escaped_away(text: str, kind: str) -> None:
    assert kind in constructs(text)
    shown = typed(text, 100)
    assert constructs(shown) == [] and rendered(shown) == text


def test_links_are_left_whole() -> None:
    assert typed("see https://a-b.example/x_y", 100) == "see https://a-b.example/x_y"


@pytest.mark.parametrize("text", ["*" * 5000, "a\\" * 3000, "x" * 5000, "é" * 5000])
def test_a_long_text_is_cut_to_the_limit_without_half_an_escape(text: str) -> None:
    shown = typed(text, 4096)
    assert len(shown) <= 4096 and shown.endswith("…")
    body = shown.removesuffix("…")
    assert rendered(body) == text[: len(rendered(body))]
    assert constructs(body) == []


def test_a_code_block_cannot_be_closed_from_inside() -> None:
    block = code_block("a ```` b ``` c", 1024)
    assert block.count("```") == 2 and block.startswith("```\n") and block.endswith("\n```")
    assert block[4:-4].replace("\u200b", "") == "a ```` b ``` c"
    assert len(code_block("`" * 5000, 1024)) <= 1024
