"""Persistent state: quota reservations, the usage log and moderator settings.

Callers depend on the ``Store`` protocol and get an implementation from ``open_store``,
which picks it from ``DATABASE_URL``: a SQLite file (``SqliteStore``, the default) or a
PostgreSQL database (``bot.store.postgres.PostgresStore``, for several processes on one
database). The PostgreSQL module is imported only when asked for, so its driver stays
an optional extra: ``pip install "imagine-bot[postgres]"``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import unquote, urlsplit

from bot.policy.spend import Price
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
    InteractionRef,
    JobLimitReached,
    JobLimits,
    Lease,
    LimitSource,
    MemberContext,
    MemberTotal,
    PruneBatch,
    QuotaExceeded,
    Reservation,
    Store,
    StoreConfigError,
    StoreError,
    UnsupportedDatabase,
    UsageSummary,
)
from bot.store.migrate import MigrationError
from bot.store.pgurl import is_postgres_url
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
    "InteractionRef",
    "JobLimitReached",
    "JobLimits",
    "Lease",
    "LimitSource",
    "MemberContext",
    "MemberTotal",
    "MigrationError",
    "PruneBatch",
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
_POSTGRES_EXAMPLE = "postgresql://user:password@host:5432/database"


def sqlite_path_from_url(database_url: str) -> Path:
    """The file a ``sqlite:///…`` URL names.

    ``sqlite:///relative/path.db`` is relative to the working directory and
    ``sqlite:////absolute/path.db`` is absolute (SQLAlchemy's convention, which self-hosters
    already know). Errors name only the scheme: a URL can carry a password.
    """
    scheme, _, rest = database_url.strip().partition("://")
    scheme = scheme.lower()
    if is_postgres_url(database_url):
        raise StoreConfigError("DATABASE_URL names a PostgreSQL database, not a SQLite file")
    if scheme != "sqlite" or not rest:
        raise StoreConfigError(
            f"DATABASE_URL must look like {_EXAMPLE} or {_POSTGRES_EXAMPLE} "
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


async def open_store(database_url: str, *, price: Price | None = None) -> Store:
    """Open (creating if needed) the database ``database_url`` names, fully migrated.

    For SQLite the parent folder is created, so ``sqlite:///data/bot.db`` works on a fresh
    checkout. ``postgresql://`` and ``postgres://`` URLs open a connection pool on an
    existing database (tables go in the search_path's first schema, normally ``public``).
    The bot then resumes what a previous process left in flight (``GenerationFlow.resume_all``,
    by lease); it does not call ``release_orphans``, which would refund live jobs of other
    processes sharing the database.

    ``price`` (SIRAYA_PRICE_PER_MEGAPIXEL) is recorded as each settled generation's
    estimated cost; None records none. Errors (``StoreError``) never repeat the URL's
    password.
    """
    if is_postgres_url(database_url):
        return await _open_postgres(database_url, price)
    path = sqlite_path_from_url(database_url)
    await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
    return await SqliteStore.open(path, price=price)


async def _open_postgres(database_url: str, price: Price | None) -> Store:
    try:
        import asyncpg  # noqa: F401  (only to give a clear message when it is missing)
    except ImportError:
        raise StoreConfigError(
            "DATABASE_URL names a PostgreSQL database, which needs the optional asyncpg "
            'driver: pip install "imagine-bot[postgres]"'
        ) from None
    from bot.store.postgres import PostgresStore

    return await PostgresStore.open(database_url, price=price)
