"""Which stored generation a button or dialog may act on, wherever it was pressed.

A custom id is text the member's client sends back; the bot wrote it, but nothing stops a
modified client from naming another generation. So every press is checked against the
place it came from: a server's buttons act only on that server's generations, and in a
personal place (a DM, a user install: no server) only on the member's own. Ids are
checked against what the database can hold before they get anywhere near a query.
"""

from __future__ import annotations

from typing import Final

MAX_RECORD_ID: Final = 2**63 - 1
"""The largest id SQLite's INTEGER and PostgreSQL's BIGINT hold (both signed 64-bit)."""

MAX_RECORD_ID_DIGITS: Final = len(str(MAX_RECORD_ID))

NO_SERVER: Final = 0
"""The guild id stored for a generation made outside any server."""


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
