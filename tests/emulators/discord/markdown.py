"""Discord's markdown as a reader meets it: what renders, and what the reader sees.

The emulator does not draw messages, but tests need to know two things a member would:
which markdown a text would *render* (a masked link, a heading, a mention…) and the
plain text they would read. Discord's rules, as far as they matter here:

* A backslash before any ASCII punctuation shows that character as typed (``\\*`` is
  a star); inside code spans and blocks nothing is rendered and backslashes stay.
* Headings (``#``), subtext (``-#``), lists (``-``, ``*``, ``1.``) and block quotes
  (``>``) only count at the start of a line.
* A bare link is a link whatever it contains: markdown characters inside it are inert.
"""

from __future__ import annotations

import re

_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")
_CODE = re.compile(r"```.*?```|``.+?``|`[^`]+`", re.DOTALL)
_URL = re.compile(r"(?:https?|steam)://[^\s<]+[^<.,:;\"'\]\s]")

CONSTRUCTS: dict[str, re.Pattern[str]] = {
    "code block": re.compile(r"```"),
    "inline code": re.compile(r"`[^`]+`"),
    "masked link": re.compile(r"\[[^\]\n]*\]\(\s*<?\w+://"),
    "heading": re.compile(r"^\s*#{1,3}\s", re.MULTILINE),
    "subtext": re.compile(r"^\s*-#\s", re.MULTILINE),
    "list": re.compile(r"^\s*(?:[-*]|\d+\.)\s", re.MULTILINE),
    "block quote": re.compile(r"^\s*>{1,3}\s", re.MULTILINE),
    "spoiler": re.compile(r"\|\|.+?\|\|", re.DOTALL),
    "emphasis": re.compile(r"\*\*.+?\*\*|\*\S.*?\*|__.+?__|~~.+?~~|(?<!\w)_\S.*?_(?!\w)"),
    "mention": re.compile(
        r"<(?:@[!&]?\d+|#\d+|/[\w -]+:\d+|a?:\w+:\d+|t:-?\d+(?::\w)?|id:\w+)>|@everyone|@here"
    ),
}


def constructs(text: str) -> list[str]:
    """The kinds of markdown ``text`` would render, e.g. ``["masked link", "mention"]``."""
    inert = _ESCAPED.sub("\0", text)
    linked = _URL.sub("link", inert)  # markdown characters inside a link are inert...
    return [
        name
        for name, pattern in CONSTRUCTS.items()
        # ...but a masked link is made of one
        if pattern.search(inert if name == "masked link" else linked)
    ]


def rendered(text: str) -> str:
    """What a reader sees of ``text``: escapes resolved outside code, code as it is."""
    out: list[str] = []
    at = 0
    while at < len(text):
        link = _URL.match(text, at)
        if link:
            out.append(link[0])
            at = link.end()
        elif _ESCAPED.match(text, at):
            out.append(text[at + 1])
            at += 2
        elif text.startswith("`", at) and (code := _CODE.match(text, at)):
            out.append(code[0])
            at = code.end()
        else:
            out.append(text[at])
            at += 1
    return "".join(out)
