"""Logging set-up, with a last line of defence that keeps secrets out of every log line.

Nothing in the bot should log a token or key in the first place; the filter exists
because third-party libraries occasionally log request details, and a leaked bot
token lets anyone take the bot over.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterable
from typing import TextIO
from urllib.parse import urlsplit

import discord

REDACTED = "[redacted]"

_INTERACTION_TOKEN = re.compile(r"(/(?:webhooks|interactions)/\d+/)[\w.-]{20,}")
"""An interaction's webhook token in a URL (discord.py logs request URLs at DEBUG): with it,
anyone could post as the bot in that channel for 15 minutes."""


class RedactSecrets(logging.Filter):
    """Replace the given secrets, and any interaction token in a URL, in every record."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = tuple(s for s in secrets if s)

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return _INTERACTION_TOKEN.sub(rf"\g<1>{REDACTED}", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = self._scrub(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        if record.exc_info and record.exc_text is None:
            record.exc_text = self._scrub(logging.Formatter().formatException(record.exc_info))
        return True


def database_password(database_url: str) -> str:
    """The password in DATABASE_URL, if any, so it can be kept out of the logs too."""
    try:
        return urlsplit(database_url).password or ""
    except ValueError:
        return ""


PLAIN_FORMAT = logging.Formatter(
    "[{asctime}] [{levelname:<8}] {name}: {message}", "%Y-%m-%d %H:%M:%S", style="{"
)
"""discord.py's layout without its ANSI colours."""


def wants_colour(stream: TextIO) -> bool:
    """Colour only for a person at a terminal: never in a file, a pipe or journald.

    discord.py also colours whenever it detects Docker, which fills ``docker logs`` and
    any log shipper with escape codes; ``NO_COLOR`` (no-color.org) turns colour off too.
    """
    return stream.isatty() and not os.environ.get("NO_COLOR")


def configure_logging(level: int, secrets: Iterable[str], stream: TextIO | None = None) -> None:
    """discord.py's handler and format, at ``level``, with secrets redacted.

    At INFO, discord.py's own chatter (logging in, each shard's session id, resumes) is
    held back to warnings so the bot's log says what the owner needs: one line at start,
    one at shutdown, and anything that went wrong. LOG_LEVEL=DEBUG shows everything.
    """
    stream = sys.stderr if stream is None else stream
    handler = logging.StreamHandler(stream)
    plain = {} if wants_colour(stream) else {"formatter": PLAIN_FORMAT}
    discord.utils.setup_logging(handler=handler, level=level, root=True, **plain)
    logging.getLogger("discord").setLevel(
        level if level < logging.INFO else max(level, logging.WARNING)
    )
    redact = RedactSecrets(secrets)
    for root_handler in logging.getLogger().handlers:
        root_handler.addFilter(redact)
