"""Small previews of results, for the moderation log.

A log entry shows a thumbnail it uploads itself rather than pointing at the result's
attachment: Discord's attachment links are signed and expire, and a log read next week
should still show what was made. The images were already fully decoded and checked
before delivery (``bot.imaging.verify``), so this only shrinks them. CPU work: run it
with ``bot.imaging.run_decoder``.
"""

from __future__ import annotations

import io
from typing import Final

from PIL import Image

THUMBNAIL_SIDE: Final = 320
"""Longest side in pixels: sharp in an embed's thumbnail slot, a few kB as JPEG."""


def thumbnail_jpeg(data: bytes, side: int = THUMBNAIL_SIDE) -> bytes:
    """``data`` (PNG, JPEG or WebP) shrunk to fit ``side`` × ``side``, as a JPEG."""
    with Image.open(io.BytesIO(data)) as opened:
        opened.draft("RGB", (side, side))  # JPEG decodes at a fraction of the size: cheaper
        image = opened.convert("RGB")
    image.thumbnail((side, side))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80)
    return out.getvalue()
