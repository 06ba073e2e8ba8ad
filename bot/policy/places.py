"""Which stored generation a button or dialog may act on, wherever it was pressed.

A custom id is text the member's client sends back; the bot wrote it, but nothing stops a
modified client from naming another generation. So every press is checked against the
place it came from: a server's buttons act only on that server's generations, and in a
personal place (a DM, a user install: no server) only on the member's own. Ids are
checked against what the database can hold before they get anywhere near a query.
"""

from __future__ import annotations

import enum
from typing import Final

MAX_RECORD_ID: Final = 2**63 - 1
"""The largest id SQLite's INTEGER and PostgreSQL's BIGINT hold (both signed 64-bit)."""

MAX_RECORD_ID_DIGITS: Final = len(str(MAX_RECORD_ID))

NO_SERVER: Final = 0
"""The guild id stored for a generation made outside any server."""


class Place(enum.Enum):
    """Where a member asked, as far as the owner's rules and bill are concerned."""

    SERVER = "server"  # a server the bot is in: that server's rules and limits
    BOT_DM = "bot_dm"  # the member's DM with the bot: personal, and the bot may post there
    ELSEWHERE = "elsewhere"  # a group DM, a server without the bot: only the interaction

    @property
    def personal(self) -> bool:
        """Charged to the member's personal quota, stored under :data:`NO_SERVER`."""
        return self is not Place.SERVER

    @property
    def bot_can_post(self) -> bool:
        """Whether the bot's own token reaches the channel (else every call earns a 403)."""
        return self is not Place.ELSEWHERE


def place_of(*, guild_id: int | None, bot_in_server: bool, bot_dm: bool) -> Place:
    """Classify an interaction's place.

    A server counts as the bot's when the bot is in it (its install authorised the
    interaction, or the bot sees it), even when the member used their own install there:
    that server's rules and limits apply.
    """
    if guild_id:
        return Place.SERVER if bot_in_server else Place.ELSEWHERE
    return Place.BOT_DM if bot_dm else Place.ELSEWHERE


def parse_record_id(text: str) -> int | None:
    """The id a custom id names, or None unless it is plain digits in 1..2^63-1."""
    if not 0 < len(text) <= MAX_RECORD_ID_DIGITS or not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if valid_record_id(value) else None


def valid_record_id(value: int) -> bool:
    """Whether ``value`` can be a row id in every supported database."""
    return 1 <= value <= MAX_RECORD_ID


def belongs_here(
    *, record_guild_id: int, record_user_id: int, guild_id: int | None, user_id: int
) -> bool:
    """Whether a generation may be acted on from this place by this member.

    ``guild_id`` is the server the press came from, None (or 0) outside any server.
    """
    if guild_id:
        return record_guild_id == guild_id
    return record_guild_id == NO_SERVER and record_user_id == user_id
