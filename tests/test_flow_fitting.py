"""One unusable image of several (undecodable, or over the upload limit even compressed)
is one missing image, not a failed job: the others are delivered and charged."""

from __future__ import annotations

import io
import random

from PIL import Image

from bot.jobs.service import Picture
from bot.siraya import ErrorKind
from bot.siraya.client import GeneratedImage
from cogs.common.flow import _fit_all


def picture(number: int, data: bytes) -> Picture:
    return Picture(number, 1000 + number, GeneratedImage(data, "png", 512, 512))


def noisy_png() -> bytes:
    pixels = random.Random(1).randbytes(512 * 512 * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", (512, 512), pixels).save(out, "PNG")
    return out.getvalue()


async def test_the_images_that_fit_are_kept_and_the_others_are_missing() -> None:
    small = b"\x89PNG tiny"
    pictures = [
        picture(1, small),
        picture(2, noisy_png()),  # cannot get under 50 bytes whatever the quality
        picture(3, b"\x89PNG" + b"\x00" * 1000),  # over the limit, and no image inside
        picture(4, small),
    ]
    fitted, missing = await _fit_all(pictures, 50)
    assert [p.number for p in fitted] == [1, 4]
    assert [(m.number, m.seed) for m in missing] == [(2, 1002), (3, 1003)]
    assert {m.error.kind for m in missing} == {ErrorKind.BAD_RESPONSE}
