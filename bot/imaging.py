"""Recognise image bytes, check they are safe to decode, and squeeze them under an upload limit.

Whatever the image API sends is untrusted. Three layers keep a hostile file from hurting
the host:

* ``sniff`` reads only the header (a few dozen bytes; a JPEG's at most
  ``_MAX_JPEG_SEGMENTS`` segments, or it gives up) so every downloaded file's size is
  checked without decoding megabytes of pixels; that is also why it parses the formats
  by hand instead of asking Pillow. The API client runs it with ``verify`` in the pool.
* ``verify`` walks the file's structure without building pixels: the size must stay
  under ``MAX_PIXELS``; a PNG's chunks must be whole (CRCs), its compressed metadata
  (zTXt, iTXt, iCCP) must inflate to little, its pixel stream must inflate to exactly
  what its header promises (no more: a bomb; no less: cut short), and animations are
  refused; a JPEG must have one frame of a kind libjpeg decodes, a bounded number of
  scans and its end marker; a WebP's chunks must add up and its frame must match its
  canvas. Memory stays flat: inflating is streamed and the output thrown away.
* ``fit_to_size`` decodes (memory ≈ pixels × 4) only what ``verify`` accepted, checks
  Pillow sees the same size, and re-encodes.

Decoding and re-encoding are CPU work of tens to hundreds of milliseconds each: run
them with :func:`run_decoder`, a small pool owned by this module, so however many
answers arrive at once, at most ``DECODE_WORKERS`` images are decoded at a time and
memory stays bounded (``asyncio.to_thread`` would give each job its own thread).
"""

from __future__ import annotations

import asyncio
import functools
import io
import re
import struct
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Final, ParamSpec, TypeVar, cast

from PIL import Image, features
from zlib_ng import zlib_ng

# zlib-ng, not the standard library's zlib: the same streams and the same API, but it
# inflates a PNG's pixel stream about three times faster (``verify`` of a 1024×768 PNG:
# 1.0 ms instead of 3.0 ms of CPU). Inflating the whole stream is how ``verify`` knows it
# is whole and no bigger than its header says (it must reach its end, whose Adler-32
# covers the inflated bytes),
# and it was the largest part of the bot's CPU per image (docs/benchmarks.md).
_INFLATE_ERROR: Final = cast("type[Exception]", zlib_ng.error)  # its stub types it as an instance

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# SOFn markers carry the frame size. C4 (DHT), C8 (JPG extension) and CC (DAC)
# sit in the same range but are not frames.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# The frame kinds libjpeg decodes: baseline, extended, progressive, and their
# arithmetic-coded twins. Lossless and hierarchical frames are refused.
_JPEG_DECODABLE = frozenset({0xC0, 0xC1, 0xC2, 0xC9, 0xCA})
# Markers with no length field after them.
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})

MAX_PIXELS: Final = 2304 * 2304
"""The most pixels the bot will decode: its largest request (2048×2048) with room for the
size tolerance. About 21 MB as RGBA; a decode holds a few such buffers at most."""
MAX_SIDE: Final = 8192
"""The longest side the bot will decode (WebP cannot encode past 16383; asks stop at 2048)."""
DECODE_WORKERS: Final = 2
"""Images decoded or re-encoded at once, bot-wide (see :func:`run_decoder`)."""
SIZE_TOLERANCE: Final = 0.05
"""How far (relative, at least 16 px) each side may be from what was asked for."""

_MAX_PNG_CHUNKS: Final = 20_000
# Decompressed zTXt, iTXt and iCCP together. Real files carry a few kilobytes (an ICC
# profile, generation parameters); Pillow would inflate up to 64 MB of them.
_MAX_PNG_METADATA: Final = 1 << 20
# Input fed and output inflated per step, then dropped: memory stays at about twice this
# per worker, whatever the size of a chunk. 1 MiB rather than 64 KiB: fewer, larger
# buffers make verify 15 % cheaper (0.85 -> 0.72 ms for the benchmark's 1024×768 PNG).
_INFLATE_STEP: Final = 1 << 20
_MAX_JPEG_SCANS: Final = 64  # progressive files have ~10; thousands is a CPU bomb
# Segments up to and including the first scan. Real files have about ten (APPn, DQT, SOF,
# DHT, SOS; a few more for EXIF, ICC and XMP); a hostile one can pack millions of empty
# ones into 10 MB, and walking them in Python would hold the interpreter for seconds.
_MAX_JPEG_SEGMENTS: Final = 64
# 0xFF fill bytes allowed before one marker (encoders write none or a handful).
_MAX_JPEG_FILL: Final = 4096
_JPEG_FILL = re.compile(rb"\xff+")
_MAX_WEBP_CHUNKS: Final = 64
# PNG colour type → channels, and the bit depths the format allows for it.
_PNG_CHANNELS: Final = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_PNG_DEPTHS: Final = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
_ADAM7: Final = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)
_PILLOW_FORMATS: Final = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}

# Quality ladder tried at each scale; below ~40 artefacts get ugly, and downscaling
# a little looks better than crushing quality further.
_QUALITIES = (90, 80, 70, 55, 40)
_SCALE_STEP = 0.75

_P = ParamSpec("_P")
_T = TypeVar("_T")
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class ImageInfo:
    format: str  # "png" | "jpeg" | "webp"
    width: int
    height: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


class NotAnImage(ValueError):
    """The bytes are not a PNG, JPEG or WebP we are willing to decode."""


async def run_decoder(fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """Run ``fn`` (a decode, a re-encode, parsing a big answer) in the bounded pool.

    At most ``DECODE_WORKERS`` run at once; the rest wait their turn in the pool's
    queue, holding only the bytes they already have. Cancelling the await drops a job
    that has not started.
    """
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(DECODE_WORKERS, thread_name_prefix="imaging")
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_pool, functools.partial(fn, *args, **kwargs))


def sniff(data: bytes) -> ImageInfo:
    """Identify PNG/JPEG/WebP bytes and read their pixel size from the header alone."""
    if data.startswith(PNG_SIGNATURE):
        return _sniff_png(data)
    if data.startswith(b"\xff\xd8\xff"):
        return _sniff_jpeg(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _sniff_webp(data)
    raise NotAnImage("not a PNG, JPEG or WebP image")


def expect_size(info: ImageInfo, width: int, height: int) -> None:
    """Raise :class:`NotAnImage` unless ``info`` is about ``width``×``height``.

    Providers may round a side a little; an answer of another size altogether is not
    the picture that was asked (and paid) for, and may be a bomb.
    """
    for got, asked in ((info.width, width), (info.height, height)):
        if abs(got - asked) > max(16, round(asked * SIZE_TOLERANCE)):
            raise NotAnImage(
                f"the image is {info.width}×{info.height}, not the {width}×{height} asked for"
            )


def verify(
    data: bytes, *, max_pixels: int = MAX_PIXELS, expect: tuple[int, int] | None = None
) -> ImageInfo:
    """Identify the image and check it is whole and safe to decode, without decoding it.

    A provider can send a file whose header is fine but whose data stops halfway
    (Discord would show it broken and the member would be charged for it), or a file
    built to exhaust memory or CPU when decoded. Building every pixel would catch the
    first but not the second, and holds the interpreter long enough to delay other
    members' acknowledgements, so the structure is checked instead (see the module
    docstring). CPU work on megabytes: run it with :func:`run_decoder`. ``expect``
    (width, height) also refuses a file of another size (:func:`expect_size`) before
    any of that work.
    """
    info = sniff(data)
    if expect is not None:
        expect_size(info, *expect)
    if info.pixels > max_pixels:
        raise NotAnImage(
            f"the {info.format} is {info.width}×{info.height}, over the {max_pixels}-pixel cap"
        )
    if max(info.width, info.height) > MAX_SIDE:
        raise NotAnImage(f"the {info.format} is {info.width}×{info.height}, a side over {MAX_SIDE}")
    if info.format == "png":
        _verify_png(data, info)
    elif info.format == "jpeg":
        _verify_jpeg(data)
    else:
        _verify_webp(data, info)
    return info


def _checked(fmt: str, width: int, height: int) -> ImageInfo:
    if width <= 0 or height <= 0:
        raise NotAnImage(f"{fmt} header declares an empty image ({width}×{height})")
    return ImageInfo(fmt, width, height)


# -- PNG ------------------------------------------------------------------------------------


def _sniff_png(data: bytes) -> ImageInfo:
    # The first chunk must be IHDR: length(4) type(4) width(4) height(4).
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise NotAnImage("truncated PNG header")
    width, height = struct.unpack(">II", data[16:24])
    return _checked("png", width, height)


def _damaged_png(why: str) -> NotAnImage:
    return NotAnImage(f"the png data is damaged or cut short ({why})")


def _verify_png(data: bytes, info: ImageInfo) -> None:
    view = memoryview(data)
    pos = len(PNG_SIGNATURE)
    chunks = 0
    metadata = 0
    idat: list[memoryview] = []
    idat_ended = False
    header = b""
    while True:
        if pos + 12 > len(data):
            raise _damaged_png("no IEND chunk")
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if length > 0x7FFFFFFF or end > len(data):
            raise _damaged_png(f"{kind!r} chunk runs past the end")
        body = view[pos + 8 : end - 4]
        if zlib_ng.crc32(view[pos + 4 : end - 4]) != struct.unpack_from(">I", data, end - 4)[0]:
            raise _damaged_png(f"bad CRC in {kind!r} chunk")
        chunks += 1
        if chunks > _MAX_PNG_CHUNKS:
            raise NotAnImage(f"the png has more than {_MAX_PNG_CHUNKS} chunks")
        if kind == b"IHDR":
            if chunks != 1 or length != 13:
                raise NotAnImage("the png has a misplaced or malformed IHDR chunk")
            header = bytes(body)
        elif kind == b"IDAT":
            if idat_ended:
                raise NotAnImage("the png's pixel data is split around other chunks")
            idat.append(body)
        elif idat:
            idat_ended = True
        if kind in (b"acTL", b"fcTL", b"fdAT"):
            raise NotAnImage("the png is animated")
        if kind in (b"zTXt", b"iTXt", b"iCCP"):
            metadata += _png_metadata_size(kind, body, _MAX_PNG_METADATA - metadata)
        if kind == b"IEND":
            break
        pos = end
    if not idat:
        raise _damaged_png("no pixel data")
    _inflate_exactly(idat, _png_raw_size(info, header))


def _png_raw_size(info: ImageInfo, header: bytes) -> int:
    """Bytes the pixel stream must inflate to: filter byte + packed row, per row (per pass)."""
    depth, colour, compression, filtering, interlace = header[8:13]
    if depth not in _PNG_DEPTHS.get(colour, ()) or compression or filtering or interlace > 1:
        raise NotAnImage("the png header is malformed")
    bits = _PNG_CHANNELS[colour] * depth

    def rows(width: int, height: int) -> int:
        return height * (1 + (width * bits + 7) // 8) if width and height else 0

    if not interlace:
        return rows(info.width, info.height)
    return sum(
        rows((info.width - x0 + dx - 1) // dx, (info.height - y0 + dy - 1) // dy)
        for x0, y0, dx, dy in _ADAM7
    )


def _inflate_exactly(parts: list[memoryview], expected: int) -> None:
    """Inflate the IDAT stream in small steps, throwing the output away, and count it.

    Each chunk is fed ``_INFLATE_STEP`` bytes at a time, so what is held is one step of
    input and one of output whatever the chunk's size (a single 40 MiB IDAT included);
    after its input is used up a step is drained while it still fills its output, since
    the inflater can hold output back (a long match) with no input left. The stream must
    reach its end: its final block and Adler-32 are how a stream cut short is told from a
    whole one.
    """
    inflater = zlib_ng.decompressobj()
    produced = 0
    try:
        for part in parts:
            for start in range(0, len(part), _INFLATE_STEP):
                pending: bytes | memoryview = part[start : start + _INFLATE_STEP]
                while not inflater.eof:
                    out = len(inflater.decompress(pending, _INFLATE_STEP))
                    produced += out
                    if produced > expected:
                        raise NotAnImage("the png holds more pixel data than its size (a bomb?)")
                    pending = inflater.unconsumed_tail
                    if not pending and out < _INFLATE_STEP:
                        break
    except _INFLATE_ERROR as error:
        raise _damaged_png(f"pixel data: {error}") from None
    if produced < expected:
        raise _damaged_png(f"pixel data stops at {produced} of {expected} bytes")
    if not inflater.eof:
        raise _damaged_png("pixel data stops before the end of its stream")


def _png_metadata_size(kind: bytes, body: memoryview, budget: int) -> int:
    """Decompressed size of a zTXt/iTXt/iCCP chunk, refusing past ``budget``."""
    raw = bytes(body)
    keyword_end = raw.find(b"\x00")
    if keyword_end < 0:
        raise NotAnImage(f"the png has a malformed {kind.decode()} chunk")
    rest = raw[keyword_end + 1 :]
    if kind == b"iTXt":
        if len(rest) < 2:
            raise NotAnImage("the png has a malformed iTXt chunk")
        compressed, method = rest[0], rest[1]
        language_end = rest.find(b"\x00", 2)
        translated_end = rest.find(b"\x00", language_end + 1) if language_end >= 0 else -1
        if translated_end < 0:
            raise NotAnImage("the png has a malformed iTXt chunk")
        if not compressed:
            return 0
        stream = rest[translated_end + 1 :]
    else:
        if not rest:
            raise NotAnImage(f"the png has a malformed {kind.decode()} chunk")
        method, stream = rest[0], rest[1:]
    if method != 0:
        raise NotAnImage(f"the png's {kind.decode()} chunk uses an unknown compression")
    inflater = zlib_ng.decompressobj()
    try:
        size = len(inflater.decompress(stream, budget + 1))
    except _INFLATE_ERROR:
        raise NotAnImage(f"the png's {kind.decode()} chunk is damaged") from None
    if size > budget:
        raise NotAnImage(
            f"the png's compressed metadata inflates past {_MAX_PNG_METADATA} bytes (a bomb?)"
        )
    return size


# -- JPEG -----------------------------------------------------------------------------------


def _jpeg_segments(data: bytes) -> list[tuple[int, int, int]]:
    """(marker, position of its length field, length) up to and including the first SOS.

    Stops early, without error, where the data ends; callers decide what is missing.
    Bounded whatever the file: at most ``_MAX_JPEG_SEGMENTS`` markers, each found after
    at most ``_MAX_JPEG_FILL`` fill bytes (skipped by the regex engine, not a Python
    loop); a file that needs more is not a usable image.
    """
    segments: list[tuple[int, int, int]] = []
    pos = 2
    size = len(data)
    for _ in range(_MAX_JPEG_SEGMENTS):
        if pos >= size:
            break
        # Any number of 0xFF fill bytes may precede a marker; we allow a few thousand.
        fill = _JPEG_FILL.match(data, pos, min(size, pos + _MAX_JPEG_FILL + 1))
        if fill is None:
            raise NotAnImage("corrupt JPEG marker stream")
        if fill.end() - pos > _MAX_JPEG_FILL:
            raise NotAnImage(f"the jpeg has over {_MAX_JPEG_FILL} fill bytes before a marker")
        pos = fill.end()
        if pos >= size:
            break
        marker = data[pos]
        pos += 1
        if marker in _JPEG_STANDALONE:
            continue
        if marker == 0xD9:  # EOI before any scan
            break
        if pos + 2 > size:
            break
        (length,) = struct.unpack(">H", data[pos : pos + 2])
        if length < 2:
            raise NotAnImage("corrupt JPEG segment length")
        segments.append((marker, pos, length))
        if marker == 0xDA:
            break
        pos += length
    else:
        if pos >= size:
            return segments
        # Standalone markers count too: millions of two-byte RSTn would be as slow.
        raise NotAnImage(
            f"the jpeg has over {_MAX_JPEG_SEGMENTS} header segments before its image data"
        )
    return segments


def _sniff_jpeg(data: bytes) -> ImageInfo:
    for marker, pos, _ in _jpeg_segments(data):
        if marker == 0xDA:
            break
        if marker in _JPEG_SOF:
            # length(2) precision(1) height(2) width(2)
            if pos + 7 > len(data):
                break
            height, width = struct.unpack(">HH", data[pos + 3 : pos + 7])
            return _checked("jpeg", width, height)
    raise NotAnImage("JPEG without a frame header")


def _verify_jpeg(data: bytes) -> None:
    segments = _jpeg_segments(data)
    frames = [marker for marker, _, _ in segments if marker in _JPEG_SOF]
    if len(frames) != 1:
        raise NotAnImage("the jpeg has more than one frame header")
    if frames[0] not in _JPEG_DECODABLE:
        raise NotAnImage(f"the jpeg uses an unsupported frame kind (SOF{frames[0] - 0xC0})")
    if not segments or segments[-1][0] != 0xDA:
        raise NotAnImage("the jpeg data is cut short (no scan)")
    first_scan = segments[-1][1]
    # 0xFF 0xDA cannot occur inside entropy-coded data (0xFF is stuffed), so this counts
    # the scans (and perhaps a few table bytes): enough to stop a many-scan CPU bomb.
    scans = data.count(b"\xff\xda", first_scan - 2)
    if scans > _MAX_JPEG_SCANS:
        raise NotAnImage(f"the jpeg has {scans} scans, over the {_MAX_JPEG_SCANS} allowed")
    if not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        raise NotAnImage("the jpeg data is cut short (no end-of-image marker)")


# -- WebP -----------------------------------------------------------------------------------


def _sniff_webp(data: bytes) -> ImageInfo:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        # Extended: flags(1) reserved(3) canvas width-1 (24 bits) canvas height-1 (24 bits).
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return _checked("webp", width, height)
    return _webp_frame(data, 12)


def _webp_frame(data: bytes, pos: int) -> ImageInfo:
    """The size a VP8 or VP8L chunk starting at ``pos`` declares."""
    chunk = data[pos : pos + 4]
    body = pos + 8
    if chunk == b"VP8 " and len(data) >= body + 10:
        # Lossy: 3-byte frame tag, start code 9D 01 2A, then 14-bit width and height.
        if data[body + 3 : body + 6] != b"\x9d\x01\x2a":
            raise NotAnImage("corrupt WebP (VP8) frame header")
        width, height = struct.unpack_from("<HH", data, body + 6)
        return _checked("webp", width & 0x3FFF, height & 0x3FFF)
    if chunk == b"VP8L" and len(data) >= body + 5:
        # Lossless: signature 0x2F, then 14 bits width-1 and 14 bits height-1, little-endian.
        if data[body] != 0x2F:
            raise NotAnImage("corrupt WebP (VP8L) header")
        (bits,) = struct.unpack_from("<I", data, body + 1)
        return _checked("webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    raise NotAnImage("truncated or unknown WebP header")


def _verify_webp(data: bytes, info: ImageInfo) -> None:
    (riff_size,) = struct.unpack_from("<I", data, 4)
    end = 8 + riff_size
    if len(data) < end:
        raise NotAnImage("the webp data is cut short (shorter than its RIFF header says)")
    pos = 12
    chunks = 0
    frame: ImageInfo | None = None
    while pos + 8 <= end:
        kind = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        following = pos + 8 + size + (size & 1)
        if pos + 8 + size > end:
            raise NotAnImage("the webp data is cut short (a chunk runs past the end)")
        chunks += 1
        if chunks > _MAX_WEBP_CHUNKS:
            raise NotAnImage(f"the webp has more than {_MAX_WEBP_CHUNKS} chunks")
        if kind == b"VP8X" and data[pos + 8] & 0x02:
            raise NotAnImage("the webp is animated")
        if kind in (b"ANIM", b"ANMF"):
            raise NotAnImage("the webp is animated")
        if kind in (b"VP8 ", b"VP8L"):
            if frame is not None:
                raise NotAnImage("the webp has more than one frame")
            frame = _webp_frame(data, pos)
        pos = following
    if frame is None:
        raise NotAnImage("the webp has no image data")
    if (frame.width, frame.height) != (info.width, info.height):
        raise NotAnImage("the webp's frame does not match its canvas")


# -- re-encoding ----------------------------------------------------------------------------


def fit_to_size(
    data: bytes, max_bytes: int, *, min_side: int = 64, max_pixels: int = MAX_PIXELS
) -> tuple[bytes, ImageInfo] | None:
    """Return image bytes no larger than ``max_bytes``, re-encoding only if needed.

    Already small enough: returned unchanged (no quality lost, no CPU spent).
    Otherwise the file is verified, decoded, and re-encoded as WebP (JPEG where Pillow
    lacks WebP) at falling quality, then the same at 3/4 scale, and so on. ``None``
    once the longer side would drop below ``min_side``: a thumbnail is not a useful
    answer to "generate an image". Raises :class:`NotAnImage` if ``data`` is not an
    image that is safe to decode. CPU-bound: run it with :func:`run_decoder`.
    """
    info = sniff(data)
    if len(data) <= max_bytes:
        return data, info
    verify(data, max_pixels=max_pixels)
    use_webp = bool(features.check("webp"))
    image = _decode(data, info, keep_alpha=use_webp)
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


def _decode(data: bytes, info: ImageInfo, *, keep_alpha: bool) -> Image.Image:
    """Decode bytes ``verify`` accepted into RGB(A); Pillow must see the same format and size.

    Only the sniffed format's plugin may open it, so the bytes cannot be taken for
    some other format. Any failure inside Pillow (its plugins raise OSError,
    ValueError, SyntaxError, struct.error, EOFError, DecompressionBombError …) means
    the same thing here: not a usable image.
    """
    try:
        with Image.open(io.BytesIO(data), formats=[_PILLOW_FORMATS[info.format]]) as opened:
            if opened.size != (info.width, info.height):
                raise NotAnImage(
                    f"the {info.format} header says {info.width}×{info.height} "
                    f"but decodes as {opened.size[0]}×{opened.size[1]}"
                )
            opened.load()
            return _prepare(opened, keep_alpha=keep_alpha)  # a new image: no extra copy
    except NotAnImage:
        raise
    except Exception as error:  # untrusted bytes: every failure means the same
        raise NotAnImage(f"cannot decode image ({type(error).__name__}: {error})") from None


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
