"""Persistent state: quota reservations, the usage log and moderator settings.

Callers depend on the ``Store`` protocol and get an implementation from ``open_store``,
which picks it from ``DATABASE_URL``. Only SQLite exists today; PostgreSQL will slot in
behind the same interface.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import unquote, urlsplit

from bot.store.base import (
    AuditAction,
    AuditEntry,
    DailyTotal,
    EffectiveLimit,
    GenerationNotFound,
    GenerationParams,
    GenerationRecord,
    GenerationStateError,
    GenerationStatus,
    GuildPolicy,
    JobLimitReached,
    JobLimits,
    LimitSource,
    MemberContext,
    MemberTotal,
    QuotaExceeded,
    Reservation,
    Store,
    StoreConfigError,
    StoreError,
    UnsupportedDatabase,
    UsageSummary,
)
from bot.store.migrate import MigrationError
from bot.store.sqlite import SqliteStore

__all__ = [
    "AuditAction",
    "AuditEntry",
    "DailyTotal",
    "EffectiveLimit",
    "GenerationNotFound",
    "GenerationParams",
    "GenerationRecord",
    "GenerationStateError",
    "GenerationStatus",
    "GuildPolicy",
    "JobLimitReached",
    "JobLimits",
    "LimitSource",
    "MemberContext",
    "MemberTotal",
    "MigrationError",
    "QuotaExceeded",
    "Reservation",
    "SqliteStore",
    "Store",
    "StoreConfigError",
    "StoreError",
    "UnsupportedDatabase",
    "UsageSummary",
    "open_store",
    "sqlite_path_from_url",
]

_EXAMPLE = "sqlite:///data/imagine-bot.db"


def sqlite_path_from_url(database_url: str) -> Path:
    """The file a ``sqlite:///…`` URL names.

    ``sqlite:///relative/path.db`` is relative to the working directory and
    ``sqlite:////absolute/path.db`` is absolute (SQLAlchemy's convention, which self-hosters
    already know). Errors name only the scheme: a URL can carry a password.
    """
    scheme, _, rest = database_url.strip().partition("://")
    scheme = scheme.lower()
    if scheme in {"postgresql", "postgres"} or scheme.startswith("postgresql+"):
        raise UnsupportedDatabase(
            "PostgreSQL support is not implemented yet; "
            f"set DATABASE_URL to a SQLite file such as {_EXAMPLE}"
        )
    if scheme != "sqlite" or not rest:
        raise StoreConfigError(
            f"DATABASE_URL must look like {_EXAMPLE} "
            f"(scheme {scheme or 'missing'!r} is not supported)"
        )
    parts = urlsplit(database_url.strip())
    if parts.netloc:
        raise StoreConfigError(
            f"a SQLite DATABASE_URL has three slashes before a relative path ({_EXAMPLE}) "
            "and four before an absolute one (sqlite:////var/lib/imagine-bot/bot.db)"
        )
    if parts.query or parts.fragment:
        raise StoreConfigError("a SQLite DATABASE_URL takes no ?options or #fragment")
    raw = unquote(parts.path)
    location = raw[1:]  # drop the slash that separates the empty host from the path
    if not location or location.endswith("/"):
        raise StoreConfigError(f"DATABASE_URL names no database file; expected e.g. {_EXAMPLE}")
    if location == ":memory:":
        raise StoreConfigError(
            "an in-memory SQLite database cannot be shared by the store's reader and writer"
            " connections and would forget every quota on restart; use a file"
        )
    return Path(location)


async def open_store(database_url: str) -> Store:
    """Open (creating if needed) the database ``database_url`` names, fully migrated.

    For SQLite the parent folder is created, so ``sqlite:///data/bot.db`` works on a fresh
    checkout. Call ``release_orphans()`` next, once, before serving requests.
    """
    path = sqlite_path_from_url(database_url)
    await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
    return await SqliteStore.open(path)
