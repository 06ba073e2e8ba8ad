"""Hostile image files, built byte by byte: what a compromised image service could send.

Each builder returns a file that passes a naive look (right signature, valid CRCs, an
end marker) so only the checks meant for it can catch it. Used by the image API
emulator's faults and by the imaging unit tests. Building them is cheap: the pixel
streams are compressed a row at a time, never held whole.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterable

from PIL import Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def chunk(kind: bytes, body: bytes) -> bytes:
    """One PNG chunk with a correct CRC."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _zero_rows(rows: int, row_bytes: int) -> bytes:
    """A zlib stream of ``rows`` all-zero rows (filter byte 0 + ``row_bytes`` zeros).

    Fast however big: a block of rows is deflated once and repeated (a full flush
    makes the compressor forget its history, so each repeat is byte-identical).
    """
    row = bytes(1 + row_bytes)
    per_block = max(1, (1 << 20) // len(row))
    block = row * per_block
    blocks, rest = divmod(rows, per_block)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    repeated = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    tail = deflate.compress(row * rest) + deflate.flush()
    checksum = 1
    for _ in range(blocks):
        checksum = zlib.adler32(block, checksum)
    checksum = zlib.adler32(row * rest, checksum)
    return b"\x78\xda" + repeated * blocks + tail + struct.pack(">I", checksum)


def png(
    width: int,
    height: int,
    *,
    stream: bytes | None = None,
    before: Iterable[bytes] = (),
    after: Iterable[bytes] = (),
    colour: int = 2,
    depth: int = 8,
) -> bytes:
    """A PNG of black pixels; ``stream`` replaces the IDAT zlib stream, ``before``/``after``
    are extra (already framed) chunks around it."""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour]
    if stream is None:
        stream = _zero_rows(height, (width * channels * depth + 7) // 8)
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return b"".join(
        [
            PNG_SIGNATURE,
            chunk(b"IHDR", header),
            *before,
            chunk(b"IDAT", stream),
            *after,
            chunk(b"IEND", b""),
        ]
    )


def pixel_bomb(width: int = 12_000, height: int = 12_000, *, pad_to: int = 0) -> bytes:
    """A real, decodable PNG of ``width``×``height`` black pixels: ~430 MB as RGB, a few
    hundred KB on the wire. ``pad_to`` adds a private chunk so the file is at least that
    big (over an upload limit, so a naive bot decodes it to shrink it)."""
    data = png(width, height)
    if pad_to > len(data):
        padding = chunk(b"zzZz", bytes(pad_to - len(data)))
        data = png(width, height, before=[padding])
    return data


def wrong_size(width: int, height: int) -> bytes:
    """An ordinary PNG, just not the size that was asked for."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), (40, 90, 160)).save(out, format="PNG")
    return out.getvalue()


def text_bomb(width: int, height: int, *, chunks: int = 40, each: int = 1_000_000) -> bytes:
    """A right-sized PNG carrying ``chunks`` zTXt chunks that each inflate to ``each`` bytes
    (just under Pillow's per-chunk limit: ~40 MB of text from ~40 KB of file)."""
    inflated = zlib.compress(bytes(each), 9)
    texts = [chunk(b"zTXt", b"Comment%d\x00\x00" % i + inflated) for i in range(chunks)]
    return png(width, height, before=texts)


def itxt_bomb(width: int, height: int, *, each: int = 20_000_000) -> bytes:
    """A right-sized PNG with one compressed iTXt chunk inflating to ``each`` bytes."""
    body = b"parameters\x00\x01\x00en\x00\x00" + zlib.compress(bytes(each), 9)
    return png(width, height, after=[chunk(b"iTXt", body)])


def overflowing_pixels(width: int, height: int, *, factor: int = 50) -> bytes:
    """Right header, but the pixel stream inflates to ``factor`` times what it should."""
    return png(width, height, stream=_zero_rows(height * factor, width * 3))


def cut_pixels(width: int, height: int) -> bytes:
    """Valid chunks and CRCs, IEND present, but the pixel stream holds only half the rows."""
    return png(width, height, stream=_zero_rows(height // 2, width * 3))


def animated_png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    frames = [Image.new("RGB", (width, height), colour) for colour in ("red", "blue")]
    frames[0].save(out, format="PNG", save_all=True, append_images=frames[1:])
    return out.getvalue()


def many_scans_jpeg(width: int, height: int, *, scans: int = 500) -> bytes:
    """A progressive JPEG with hundreds of (empty) extra scans: a CPU bomb for libjpeg."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), "grey").save(out, format="JPEG", progressive=True)
    data = out.getvalue()
    assert data.endswith(b"\xff\xd9")
    # An SOS header for one component, successive-approximation refinement: tiny each.
    extra = b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x10" * scans
    return data[:-2] + extra + b"\xff\xd9"


def _jpeg(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "grey").save(out, format="JPEG")
    return out.getvalue()


def jpeg_segment_flood(width: int, height: int, *, segments: int = 2_500_000) -> bytes:
    """A real JPEG with ``segments`` empty APP0 segments (``FFE0 0002``) before its frame
    header: 10 MB of markers that a naive header walk visits one by one."""
    data = _jpeg(width, height)
    return data[:2] + b"\xff\xe0\x00\x02" * segments + data[2:]


def jpeg_fill_flood(width: int, height: int, *, fill: int = 10_000_000) -> bytes:
    """A real JPEG whose first marker is preceded by ``fill`` 0xFF fill bytes (legal in
    the format, a few at most in real files)."""
    data = _jpeg(width, height)
    return data[:2] + b"\xff" * fill + data[2:]
