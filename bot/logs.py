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
from collections.abc import Callable, Iterable
from typing import Any, TextIO
from urllib.parse import urlsplit

import discord

REDACTED = "[redacted]"

_TOKEN_PATTERNS: tuple[re.Pattern[str], ...] = (
    # An interaction's webhook token in a URL (discord.py logs request URLs at DEBUG,
    # aiohttp puts them in its errors): with it, anyone could post as the bot in that
    # channel for 15 minutes.
    re.compile(r"(/(?:webhooks|interactions)/\d+/)[\w.~%-]{20,}"),
    # A "token" field however it is printed: the gateway's INTERACTION_CREATE dump
    # ({'token': '...'}), JSON ("token": "..."), a query string (token=...), and the
    # like (access_token, interaction_token).
    re.compile(r"""(\b\w*token['"]?\s*[:=]\s*['"]?)(?!\[redacted)[^\s'",&;)}\]]+""", re.I),
    # A credential in an Authorization header, whichever key it is.
    re.compile(
        r"""(\bauthorization['"]?\s*[:=]\s*['"]?(?:bot|bearer)\s+)(?!\[redacted)[^\s'",;]+""",
        re.I,
    ),
    # An interaction token anywhere else (a database driver's parameters, say): Discord's
    # are base64 of "interaction:<id>:...", so they all begin alike.
    re.compile(r"()\baW50ZXJhY3Rpb246[\w.~%+/=-]+"),
    # Anything shaped like a Discord bot token (user id . timestamp . HMAC).
    re.compile(r"()\b[\w-]{23,28}\.[\w-]{6,7}\.[\w-]{27,}"),
)
"""What a secret looks like, so one the filter was never told about is still caught."""


class RedactSecrets(logging.Filter):
    """Replace the given secrets, and anything shaped like a token, in every record.

    Scrubs the message, the traceback and the stack. A traceback that needed scrubbing
    is folded into the message as text: some formatters (discord.py's coloured one)
    format ``exc_info`` afresh and would print the original.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = tuple(s for s in secrets if s)

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        for pattern in _TOKEN_PATTERNS:
            text = pattern.sub(rf"\g<1>{REDACTED}", text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: leave it for the handler to report
            return True
        scrubbed = self.scrub(message)
        if record.exc_info:
            trace = record.exc_text or logging.Formatter().formatException(record.exc_info)
            clean = self.scrub(trace)
            if clean != trace:
                scrubbed, record.exc_info, record.exc_text = f"{scrubbed}\n{clean}", None, None
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        if record.stack_info:
            record.stack_info = self.scrub(record.stack_info)
        return True


class _RedactingRecords:
    """A log record factory that scrubs each record as it is made.

    Handler filters only guard the handlers present when logging was set up; this
    guards every handler, including one discord.py or a library adds later, and every
    logger, whatever its propagation.
    """

    def __init__(self, base: Callable[..., logging.LogRecord], redact: RedactSecrets) -> None:
        self.base = base
        self._redact = redact

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.base(*args, **kwargs)
        self._redact.filter(record)
        return record


def redact_every_record(redact: RedactSecrets) -> None:
    """Scrub every log record from now on (replacing an earlier call's secrets)."""
    current = logging.getLogRecordFactory()
    base = current.base if isinstance(current, _RedactingRecords) else current
    logging.setLogRecordFactory(_RedactingRecords(base, redact))


def stop_redacting_records() -> None:
    """Undo :func:`redact_every_record` (tests that set logging up put it back)."""
    current = logging.getLogRecordFactory()
    if isinstance(current, _RedactingRecords):
        logging.setLogRecordFactory(current.base)


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
    redact_every_record(redact)
    for root_handler in logging.getLogger().handlers:
        root_handler.addFilter(redact)
