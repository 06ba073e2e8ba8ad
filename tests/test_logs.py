"""Tokens the log filter was never told about are still kept out of every log line."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

import aiohttp
import discord
import pytest
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from bot.logs import REDACTED, RedactSecrets, configure_logging, stop_redacting_records

FRESH = "Zm9yZWlnbi10b2tlbi1uZXZlci1zZWVuLWJlZm9yZQ"  # no prefix, no known secret
INTERACTION = "aW50ZXJhY3Rpb246MTIzNDU2Nzg5OmFiY2RlZmdoaWprbG1ub3A"
BOT_TOKEN = "MTE3Nzc4MTIzNDU2Nzg5MDEy.GaBcDe.abcdefghijklmnopqrstuvwxyz12345"


@pytest.mark.parametrize(
    "line",
    [
        f"WebSocket Event: {{'t': 'INTERACTION_CREATE', 'd': {{'token': '{FRESH}', 'id': '1'}}}}",
        f'{{"type": 2, "token": "{FRESH}"}}',
        f"GET https://example.invalid/callback?token={FRESH}&state=1",
        f"PATCH https://discord.com/api/v10/webhooks/123/{FRESH}/messages/@original",
        f"POST https://discord.com/api/v10/interactions/456/{FRESH}/callback",
        f"headers {{'Authorization': 'Bot {FRESH}'}}",
        f"executing (None, 'a fox', '{INTERACTION}', 3)",
        f"login with {BOT_TOKEN}",
    ],
)
def test_token_shapes_are_redacted_without_being_known(line: str) -> None:
    scrubbed = RedactSecrets([]).scrub(line)
    assert FRESH not in scrubbed and INTERACTION not in scrubbed and BOT_TOKEN not in scrubbed
    assert REDACTED in scrubbed
    assert RedactSecrets([]).scrub(scrubbed) == scrubbed, "scrubbing twice changes nothing"


def test_ordinary_words_about_tokens_are_left_alone() -> None:
    line = "the token expired; token_lifetime=900; 3 tokens left"
    assert RedactSecrets([]).scrub(line) == line


@pytest.fixture
def shipped_logging() -> Iterator[list[str]]:
    """Logging as ``python -m bot`` sets it up, plus a bare handler added afterwards."""
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    lines: list[str] = []

    class Bare(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    configure_logging(logging.DEBUG, ["known-secret"])
    root.addHandler(Bare())
    try:
        yield lines
    finally:
        stop_redacting_records()
        root.handlers[:] = saved[1]
        root.setLevel(saved[0])


def test_a_handler_added_later_sees_only_redacted_records(shipped_logging: list[str]) -> None:
    logging.getLogger("discord.http").debug(
        "%s %s has received %s", "PATCH", f"https://d.invalid/webhooks/1/{FRESH}", "known-secret"
    )
    expected = f"PATCH https://d.invalid/webhooks/1/{REDACTED} has received {REDACTED}"
    assert shipped_logging == [expected]


def test_an_aiohttp_error_naming_the_url_is_redacted_in_the_traceback(
    shipped_logging: list[str],
) -> None:
    url = URL(f"https://discord.com/api/v10/webhooks/1/{FRESH}/messages/@original")
    info = aiohttp.RequestInfo(url, "PATCH", CIMultiDictProxy(CIMultiDict()), url)
    try:
        raise aiohttp.ClientResponseError(info, (), status=401, message="Unauthorized")
    except aiohttp.ClientResponseError:
        logging.getLogger("bot.flow").exception("delivery failed")
    assert FRESH not in "\n".join(shipped_logging)
    assert "Unauthorized" in shipped_logging[0], "the traceback is still there, redacted"


def test_discord_colour_formatter_cannot_reprint_the_original_traceback() -> None:
    """discord.py's coloured formatter formats ``exc_info`` itself, ignoring exc_text."""
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, None)
    try:
        raise RuntimeError(f"https://d.invalid/webhooks/1/{FRESH}")
    except RuntimeError:
        record.exc_info = sys.exc_info()
    RedactSecrets([]).filter(record)
    text = discord.utils._ColourFormatter().format(record)
    assert FRESH not in text and REDACTED in text
