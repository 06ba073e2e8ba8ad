"""Logging set-up, with a last line of defence that keeps secrets out of every log line.

Nothing in the bot should log a token or key in the first place; the filter exists
because third-party libraries occasionally log request details, and a leaked bot
token lets anyone take the bot over.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import discord

REDACTED = "[redacted]"


class RedactSecrets(logging.Filter):
    """Replace any occurrence of the given secrets in a record's final message."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(secret in message for secret in self._secrets):
            for secret in self._secrets:
                message = message.replace(secret, REDACTED)
            record.msg, record.args = message, None
        if record.exc_info and record.exc_text is None and self._secrets:
            text = logging.Formatter().formatException(record.exc_info)
            for secret in self._secrets:
                text = text.replace(secret, REDACTED)
            record.exc_text = text
        return True


def configure_logging(level: int, secrets: Iterable[str]) -> None:
    """discord.py's recommended handler and format, at ``level``, with secrets redacted."""
    discord.utils.setup_logging(level=level, root=True)
    redact = RedactSecrets(secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)
