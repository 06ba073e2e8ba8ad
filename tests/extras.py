"""Optional extras: a test that needs one skips with the install line, never fails.

The README's test command installs only ``.[dev]``; the PostgreSQL driver comes with the
``postgres`` extra. A fresh clone must pass as written, so tests that talk to asyncpg
say what to install instead of failing on an ImportError.
"""

from __future__ import annotations

from types import ModuleType

import pytest

POSTGRES_EXTRA_REASON = 'asyncpg not installed: pip install -e ".[dev,postgres]" to run this test'


def require_asyncpg() -> ModuleType:
    """The asyncpg module, or skip the calling test with the line that installs it."""
    return pytest.importorskip("asyncpg", reason=POSTGRES_EXTRA_REASON)
