"""Recognise image bytes and squeeze them under an upload limit.

``sniff`` reads only the header (a few dozen bytes) so the API client can check every
downloaded file on the event loop without decoding megabytes of pixels; that is
also why it parses the formats by hand instead of asking Pillow.

``fit_to_size`` decodes and encodes, which takes tens to hundreds of
milliseconds: call it through ``asyncio.to_thread``.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError, features

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# SOFn markers carry the frame size. C4 (DHT), C8 (JPG extension) and CC (DAC)
# sit in the same range but are not frames.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers with no length field after them.
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})

# Quality ladder tried at each scale; below ~40 artefacts get ugly, and downscaling
# a little looks better than crushing quality further.
_QUALITIES = (90, 80, 70, 55, 40)
_SCALE_STEP = 0.75


@dataclass(frozen=True, slots=True)
class ImageInfo:
    format: str  # "png" | "jpeg" | "webp"
    width: int
    height: int


class NotAnImage(ValueError):
    """The bytes are not a PNG, JPEG or WebP we can read the size of."""


def sniff(data: bytes) -> ImageInfo:
    """Identify PNG/JPEG/WebP bytes and read their pixel size from the header alone."""
    if data.startswith(PNG_SIGNATURE):
        return _sniff_png(data)
    if data.startswith(b"\xff\xd8\xff"):
        return _sniff_jpeg(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _sniff_webp(data)
    raise NotAnImage("not a PNG, JPEG or WebP image")


def verify(data: bytes) -> ImageInfo:
    """Identify the image and check that it is whole, without decoding its pixels.

    A provider can send a file whose header is fine but whose data stops halfway;
    Discord would show it broken and the member would be charged for it. Decoding every
    pixel would catch that too, but it holds the interpreter long enough to delay
    other members' acknowledgements under load, so the structure is checked instead:
    every PNG chunk's CRC up to IEND, a JPEG's end-of-image marker, a WebP's RIFF size.
    Still CPU work on megabytes: call it through ``asyncio.to_thread``.
    """
    info = sniff(data)
    if info.format == "png":
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.verify()  # walks the chunks, checking each CRC, up to IEND
        except (OSError, SyntaxError, ValueError, struct.error) as error:
            raise NotAnImage(f"the png data is damaged or cut short ({error})") from None
    elif info.format == "jpeg":
        if not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
            raise NotAnImage("the jpeg data is cut short (no end-of-image marker)")
    elif len(data) < 8 + struct.unpack_from("<I", data, 4)[0]:
        raise NotAnImage("the webp data is cut short (shorter than its RIFF header says)")
    return info


def _checked(fmt: str, width: int, height: int) -> ImageInfo:
    if width <= 0 or height <= 0:
        raise NotAnImage(f"{fmt} header declares an empty image ({width}×{height})")
    return ImageInfo(fmt, width, height)


def _sniff_png(data: bytes) -> ImageInfo:
    # The first chunk must be IHDR: length(4) type(4) width(4) height(4).
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise NotAnImage("truncated PNG header")
    width, height = struct.unpack(">II", data[16:24])
    return _checked("png", width, height)


def _sniff_jpeg(data: bytes) -> ImageInfo:
    pos = 2
    size = len(data)
    while pos < size:
        if data[pos] != 0xFF:
            raise NotAnImage("corrupt JPEG marker stream")
        # Any number of 0xFF fill bytes may precede a marker.
        while pos < size and data[pos] == 0xFF:
            pos += 1
        if pos >= size:
            break
        marker = data[pos]
        pos += 1
        if marker in _JPEG_STANDALONE:
            continue
        if marker in (0xD9, 0xDA):  # EOI or start of scan before any frame header
            break
        if pos + 2 > size:
            break
        (length,) = struct.unpack(">H", data[pos : pos + 2])
        if length < 2:
            raise NotAnImage("corrupt JPEG segment length")
        if marker in _JPEG_SOF:
            # length(2) precision(1) height(2) width(2)
            if pos + 7 > size:
                break
            height, width = struct.unpack(">HH", data[pos + 3 : pos + 7])
            return _checked("jpeg", width, height)
        pos += length
    raise NotAnImage("JPEG without a frame header")


def _sniff_webp(data: bytes) -> ImageInfo:
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30:
        # Lossy: 3-byte frame tag, start code 9D 01 2A, then 14-bit width and height.
        if data[23:26] != b"\x9d\x01\x2a":
            raise NotAnImage("corrupt WebP (VP8) frame header")
        width, height = struct.unpack("<HH", data[26:30])
        return _checked("webp", width & 0x3FFF, height & 0x3FFF)
    if chunk == b"VP8L" and len(data) >= 25:
        # Lossless: signature 0x2F, then 14 bits width-1 and 14 bits height-1, little-endian.
        if data[20] != 0x2F:
            raise NotAnImage("corrupt WebP (VP8L) header")
        (bits,) = struct.unpack("<I", data[21:25])
        return _checked("webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    if chunk == b"VP8X" and len(data) >= 30:
        # Extended: flags(1) reserved(3) canvas width-1 (24 bits) canvas height-1 (24 bits).
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return _checked("webp", width, height)
    raise NotAnImage("truncated or unknown WebP header")


def fit_to_size(
    data: bytes, max_bytes: int, *, min_side: int = 64
) -> tuple[bytes, ImageInfo] | None:
    """Return image bytes no larger than ``max_bytes``, re-encoding only if needed.

    Already small enough: returned unchanged (no quality lost, no CPU spent).
    Otherwise: WebP (JPEG where Pillow lacks WebP) at falling quality, then the
    same at 3/4 scale, and so on. ``None`` once the longer side would drop below
    ``min_side``: a thumbnail is not a useful answer to "generate an image".
    Raises :class:`NotAnImage` if ``data`` is not an image. CPU-bound.
    """
    info = sniff(data)
    if len(data) <= max_bytes:
        return data, info
    try:
        with Image.open(io.BytesIO(data)) as opened:
            opened.load()
            image = opened.copy()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError) as exc:
        raise NotAnImage(f"cannot decode image: {exc}") from exc

    use_webp = bool(features.check("webp"))
    image = _prepare(image, keep_alpha=use_webp)
    scale = 1.0
    while True:
        width = max(1, round(info.width * scale))
        height = max(1, round(info.height * scale))
        if max(width, height) < min_side:
            return None
        candidate = (
            image
            if (width, height) == image.size
            else image.resize((width, height), Image.Resampling.LANCZOS)
        )
        for quality in _QUALITIES:
            encoded = _encode(candidate, quality, use_webp)
            if len(encoded) <= max_bytes:
                return encoded, ImageInfo("webp" if use_webp else "jpeg", width, height)
        scale *= _SCALE_STEP


def _prepare(image: Image.Image, *, keep_alpha: bool) -> Image.Image:
    """Bring any decoded mode to RGB/RGBA; JPEG has no alpha, so flatten onto white."""
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
    if has_alpha:
        rgba = image.convert("RGBA")
        if keep_alpha:
            return rgba
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


def _encode(image: Image.Image, quality: int, use_webp: bool) -> bytes:
    out = io.BytesIO()
    if use_webp:
        image.save(out, format="WEBP", quality=quality, method=4)
    else:
        image.save(out, format="JPEG", quality=quality, optimize=True)
    return out.getvalue()
