"""Server styles: what a valid style is, how one is found by name, how it joins a prompt.

Pure rules, shared by the store (which refuses a bad style whoever calls it) and the
cogs (which explain the refusal). The limits keep a style list within what Discord can
show: 25 is the most choices an autocomplete answer may hold, 32 fits a choice name
with room to spare, and 300 characters of style keep the joined prompt well within
what the API reads closely.
"""

from __future__ import annotations

from typing import Final, Literal

STYLE_NAME_MAX: Final = 32
STYLE_TEXT_MAX: Final = 300
MAX_STYLES_PER_GUILD: Final = 25
JOINER: Final = ", "

StylePart = Literal["name", "text"]


class StyleRefused(ValueError):
    """A style the rules refuse. Each kind carries what its message needs, so the cogs
    word it in the reader's language; ``str()`` is English, for logs."""


class StyleEmpty(StyleRefused):
    """The style's ``part`` (its name or its text) is blank."""

    def __init__(self, part: StylePart) -> None:
        super().__init__(
            "a style needs a name"
            if part == "name"
            else "a style needs some text to add to prompts"
        )
        self.part: StylePart = part


class StyleTooLong(StyleRefused):
    """The style's ``part`` is longer than ``limit`` characters."""

    def __init__(self, part: StylePart, limit: int) -> None:
        super().__init__(f"a style's {part} can be at most {limit} characters")
        self.part: StylePart = part
        self.limit = limit


class StylesFull(StyleRefused):
    """The server already has ``cap`` styles (the store counts them)."""

    def __init__(self, cap: int) -> None:
        super().__init__(f"a server can have at most {cap} styles; remove one first")
        self.cap = cap


def _one_line(text: str, limit: int, part: StylePart) -> str:
    joined = " ".join(text.split())
    if not joined:
        raise StyleEmpty(part)
    if len(joined) > limit:
        raise StyleTooLong(part, limit)
    return joined


def style_name(name: str) -> str:
    """The name as shown (surrounding and repeated spaces dropped); StyleRefused if unusable."""
    return _one_line(name, STYLE_NAME_MAX, "name")


def style_key(name: str) -> str:
    """What two names must share to be the same style: case and spacing do not count."""
    return " ".join(name.split()).casefold()


def style_text(text: str) -> str:
    """The text joined to prompts, on one line; StyleRefused if empty or too long."""
    return _one_line(text, STYLE_TEXT_MAX, "text")


def join_prompt(prompt: str, text: str | None) -> str:
    """The prompt sent to the API: the member's words, then the style's."""
    prompt = prompt.strip()
    if not text:
        return prompt
    return f"{prompt}{JOINER}{text}"
