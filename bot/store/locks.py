"""Keys for PostgreSQL advisory locks, stable across processes and Python versions.

Advisory lock keys share one 64-bit space per database with every other application
using it, so keys are hashes of a namespaced name rather than raw ids. A collision (two
names, one key) only makes two unrelated lock holders wait for each other; it can never
let two holders of the *same* name in at once, which is the property correctness needs.
``hash()`` is salted per process, hence blake2b.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Iterable

__all__ = ["LocalGates", "advisory_key"]


def advisory_key(*parts: object) -> int:
    """A signed 64-bit key (PostgreSQL's ``bigint``) for the lock named by ``parts``."""
    name = "\x1f".join(("imagine-bot", *(str(part) for part in parts)))
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class LocalGates:
    """In-process twins of advisory locks, taken before a pooled connection is borrowed.

    Without them, every coroutine of one process that wants a busy guild's lock would
    borrow a connection and then wait on the server, so a burst in one guild could pin
    the whole pool while ``complete``, policy reads and other guilds wait for a
    connection. With them, at most one coroutine per key and process waits on the
    server; the rest wait here, holding nothing. Exactness across processes still comes
    from the advisory lock itself.
    """

    def __init__(self) -> None:
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}

    @contextlib.asynccontextmanager
    async def hold(self, keys: Iterable[int]) -> AsyncIterator[None]:
        """Hold every key's gate; callers pass keys in one global order (sorted)."""
        async with contextlib.AsyncExitStack() as stack:
            for key in keys:
                await stack.enter_async_context(self._one(key))
            yield

    @contextlib.asynccontextmanager
    async def _one(self, key: int) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:  # forget idle keys: guilds come and go
                del self._users[key], self._locks[key]
