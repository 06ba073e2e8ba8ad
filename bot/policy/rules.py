"""Server rules checked before ``/imagine`` defers: where it may run, what it may say.

Pure functions: the store supplies the guild's settings, the cogs supply the channel and
the prompt, and these decide. Keeping them free of I/O means a refusal is explained with
the same logic that produced it and the rules are tested exhaustively.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable
from functools import lru_cache

from bot.policy.skeleton import skeleton, strip_ignorable

MAX_BLOCKED_WORD_LENGTH = 100
"""Long enough for any phrase worth blocking; short enough to keep matching cheap."""


class BlockedWordRefused(ValueError):
    """A blocked-word change the rules refuse. Each kind carries the numbers its message
    needs, so the cogs word it in the reader's language; ``str()`` is English, for logs."""


class BlockedWordEmpty(BlockedWordRefused):
    """Nothing left of the word once normalised (only spaces or invisible characters)."""

    def __init__(self) -> None:
        super().__init__("a blocked word cannot be empty")


class BlockedWordTooLong(BlockedWordRefused):
    """Longer than ``limit`` characters once normalised (NFKC can lengthen a word)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"a blocked word or phrase is limited to {limit} characters")
        self.limit = limit


class BlockedWordsFull(BlockedWordRefused):
    """The server already blocks ``cap`` words or phrases (the store counts them)."""

    def __init__(self, cap: int) -> None:
        super().__init__(f"a server can block at most {cap} words or phrases")
        self.cap = cap


def channel_allowed(
    channel_id: int,
    allowed_channel_ids: Collection[int],
    *,
    parent_channel_id: int | None = None,
) -> bool:
    """Whether ``/imagine`` may run in a channel.

    No allowed channels means everywhere: a fresh server works without setup. A thread
    inherits its parent channel's permission (pass ``parent_channel_id``), because a
    moderator who allows #art expects its threads to work too.
    """
    if not allowed_channel_ids:
        return True
    if channel_id in allowed_channel_ids:
        return True
    return parent_channel_id is not None and parent_channel_id in allowed_channel_ids


def normalize_text(text: str) -> str:
    """Fold text so that spellings a reader cannot tell apart compare equal.

    NFKC maps compatibility forms (fullwidth letters, ligatures) to plain ones, casefold
    is Unicode-aware lower-casing, and characters that draw nothing (zero-width space,
    soft hyphen, joiners, variation selectors) are dropped: "ＢＡＤ", "Bad" with a
    zero-width space inside and "Bad" all become "bad". This is the readable form a
    blocked word is stored and shown in;
    matching goes further (see :func:`bot.policy.skeleton.skeleton`).
    """
    return strip_ignorable(unicodedata.normalize("NFKC", text).casefold())


def normalize_blocked_word(word: str) -> str:
    """The canonical form stored for a blocked word or phrase.

    Normalised and with runs of whitespace collapsed, so "Bad  Thing" and "bad thing"
    are one rule and unblocking either removes it. Raises :class:`BlockedWordRefused`.
    """
    canonical = " ".join(normalize_text(word).split())
    if not canonical:
        raise BlockedWordEmpty()
    if len(canonical) > MAX_BLOCKED_WORD_LENGTH:
        raise BlockedWordTooLong(MAX_BLOCKED_WORD_LENGTH)
    return canonical


@lru_cache(maxsize=4096)
def _rule_pattern(word: str) -> re.Pattern[str]:
    # Rule and prompt are both compared as skeletons, so a rule written with look-alike
    # letters catches its plain spelling too.
    # Boundaries are "not preceded/followed by a word character" rather than \b, so
    # rules that start or end with punctuation ("f*ck", "c++") still respect them.
    # Whitespace inside a phrase matches any run of whitespace in the prompt.
    rule = skeleton(normalize_blocked_word(word))
    body = r"\s+".join(re.escape(part) for part in rule.split())
    return re.compile(rf"(?<!\w){body}(?!\w)")


def find_blocked_word(prompt: str, blocked_words: Iterable[str]) -> str | None:
    """Return the first blocked word or phrase the prompt contains, or None.

    Matching is case-insensitive and on word boundaries: "ass" blocks "an ass" but not
    "class"; the phrase "red wine" blocks "Red  Wine!" but not "red winery". It sees
    through disguises a reader would not notice: letters from other scripts that look
    the same (Cyrillic "а"), compatibility forms ("ｂａｄ", "𝐛𝐚𝐝") and invisible
    characters inside the word. The rule returned is the one the moderator wrote, so the
    member learns what to change without seeing the whole list.
    """
    text = skeleton(prompt)
    for word in blocked_words:
        if _rule_pattern(word).search(text):
            return word
    return None


def safety_checker_enabled(
    *,
    channel_is_nsfw: bool,
    guild_nsfw_safety: bool | None,
    default_nsfw_safety: bool,
) -> bool:
    """Whether the image API's safety checker must be on for this request.

    Outside NSFW-marked channels it is always on: Discord's own rules require it and no
    server setting can lift that. Inside them the server's ``nsfw-safety`` setting
    decides, and when a server never set it the bot owner's default does.
    """
    if not channel_is_nsfw:
        return True
    if guild_nsfw_safety is None:
        return default_nsfw_safety
    return guild_nsfw_safety
