"""Server styles: what a valid style is, how one is found by name, how it joins a prompt.

Pure rules, shared by the store (which refuses a bad style whoever calls it) and the
cogs (which explain the refusal). The limits keep a style list within what Discord can
show: 25 is the most choices an autocomplete answer may hold, 32 fits a choice name
with room to spare, and 300 characters of style keep the joined prompt well within
what the API reads closely.
"""

from __future__ import annotations

from typing import Final

STYLE_NAME_MAX: Final = 32
STYLE_TEXT_MAX: Final = 300
MAX_STYLES_PER_GUILD: Final = 25
JOINER: Final = ", "


def _one_line(text: str, limit: int, what: str, empty: str) -> str:
    joined = " ".join(text.split())
    if not joined:
        raise ValueError(empty)
    if len(joined) > limit:
        raise ValueError(f"a style's {what} can be at most {limit} characters")
    return joined


def style_name(name: str) -> str:
    """The name as shown (surrounding and repeated spaces dropped); ValueError if unusable."""
    return _one_line(name, STYLE_NAME_MAX, "name", "a style needs a name")


def style_key(name: str) -> str:
    """What two names must share to be the same style: case and spacing do not count."""
    return " ".join(name.split()).casefold()


def style_text(text: str) -> str:
    """The text joined to prompts, on one line; ValueError if empty or too long."""
    return _one_line(text, STYLE_TEXT_MAX, "text", "a style needs some text to add to prompts")


def join_prompt(prompt: str, text: str | None) -> str:
    """The prompt sent to the API: the member's words, then the style's."""
    prompt = prompt.strip()
    if not text:
        return prompt
    return f"{prompt}{JOINER}{text}"
