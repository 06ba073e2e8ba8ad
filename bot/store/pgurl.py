"""PostgreSQL URLs: which ones we accept, and how to talk about them without the password.

A DATABASE_URL usually carries a password, and error messages end up in logs, in
``imagine-bot check`` output and in bug reports. Everything user-facing about a
PostgreSQL URL goes through ``describe`` (user@host:port/db, never the password) and
``scrub`` (removes the password from any text a driver produced).
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

__all__ = ["POSTGRES_SCHEMES", "describe", "is_postgres_url", "normalise", "scrub"]

POSTGRES_SCHEMES = frozenset({"postgresql", "postgres"})


def _scheme(url: str) -> str:
    scheme, _, _ = url.strip().partition("://")
    return scheme.lower()


def is_postgres_url(url: str) -> bool:
    """``postgresql://``, ``postgres://`` and SQLAlchemy-style ``postgresql+driver://``."""
    scheme = _scheme(url)
    return scheme in POSTGRES_SCHEMES or scheme.startswith("postgresql+")


def normalise(url: str) -> str:
    """The URL as asyncpg accepts it: a ``+driver`` suffix is dropped, the rest is kept."""
    url = url.strip()
    _, _, rest = url.partition("://")
    return f"postgresql://{rest}"


def _password(url: str) -> str | None:
    try:
        password = urlsplit(url.strip()).password
    except ValueError:  # e.g. a non-numeric port: urlsplit still found no usable password
        return None
    return password or None


def describe(url: str) -> str:
    """``user@host:port/database`` for messages; never the password, never the query."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or "localhost"
        port = parts.port or 5432
        user = f"{unquote(parts.username)}@" if parts.username else ""
    except ValueError:
        return "the PostgreSQL server in DATABASE_URL"
    database = unquote(parts.path.lstrip("/")) or "(default database)"
    return f"{user}{host}:{port}/{database}"


def scrub(text: str, url: str) -> str:
    """``text`` with the URL's password (raw and percent-decoded) replaced by ``***``."""
    password = _password(url)
    if password:
        for secret in {password, unquote(password)}:
            text = text.replace(secret, "***")
    return text
