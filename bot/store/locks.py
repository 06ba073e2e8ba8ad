"""Keys for PostgreSQL advisory locks, stable across processes and Python versions.

Advisory lock keys share one 64-bit space per database with every other application
using it, so keys are hashes of a namespaced name rather than raw ids. A collision (two
names, one key) only makes two unrelated lock holders wait for each other; it can never
let two holders of the *same* name in at once, which is the property correctness needs.
``hash()`` is salted per process, hence blake2b.
"""

from __future__ import annotations

import hashlib

__all__ = ["advisory_key"]


def advisory_key(*parts: object) -> int:
    """A signed 64-bit key (PostgreSQL's ``bigint``) for the lock named by ``parts``."""
    name = "\x1f".join(("imagine-bot", *(str(part) for part in parts)))
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
