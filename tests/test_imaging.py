"""Image sniffing and re-encoding: the bot must recognise what it downloads and fit uploads."""

from __future__ import annotations

import asyncio
import contextlib
import io
import random
import re
import struct
import threading
import time
import zlib
from collections.abc import Callable

import pytest
from PIL import Image

from bot import imaging
from bot.imaging import (
    _MAX_JPEG_FILL,
    _MAX_JPEG_SEGMENTS,
    DECODE_WORKERS,
    ImageInfo,
    NotAnImage,
    expect_size,
    fit_to_size,
    run_decoder,
    sniff,
    verify,
)
from tests.emulators import crafted


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def noisy(width: int, height: int, seed: int = 1) -> Image.Image:
    """Random pixels: the worst case for compression, so re-encoding really has to work."""
    return Image.frombytes(
        "RGB", (width, height), random.Random(seed).randbytes(width * height * 3)
    )


@pytest.mark.parametrize(
    ("fmt", "options", "expected"),
    [
        ("PNG", {}, "png"),
        ("JPEG", {"quality": 80}, "jpeg"),
        ("JPEG", {"progressive": True}, "jpeg"),  # SOF2 rather than SOF0
        ("WEBP", {"quality": 80}, "webp"),  # lossy: VP8
        ("WEBP", {"lossless": True}, "webp"),  # VP8L
    ],
)
@pytest.mark.parametrize("size", [(37, 23), (1024, 768), (1, 1)])
def test_sniff_reads_format_and_size_of_pillow_output(
    fmt: str, options: dict[str, object], expected: str, size: tuple[int, int]
) -> None:
    data = encode(Image.new("RGB", size, (200, 100, 50)), fmt, **options)

    assert sniff(data) == ImageInfo(expected, *size)


def test_sniff_reads_extended_webp_with_alpha() -> None:
    # Transparency (and EXIF, ICC…) makes libwebp write a VP8X header first.
    data = encode(Image.new("RGBA", (300, 200), (0, 0, 0, 0)), "WEBP", quality=80)

    assert data[12:16] == b"VP8X"
    assert sniff(data) == ImageInfo("webp", 300, 200)


def test_sniff_skips_jpeg_segments_before_the_frame_header() -> None:
    # EXIF and ICC segments come before SOF; the size must come from the frame, not them.
    exif = Image.Exif()
    exif[0x010E] = "x" * 2000  # ImageDescription, a long APP1 segment
    data = encode(Image.new("RGB", (640, 480)), "JPEG", exif=exif.tobytes())

    assert data.index(b"\xff\xe1") < data.index(b"\xff\xc0")  # APP1 (EXIF) before SOF0
    assert sniff(data) == ImageInfo("jpeg", 640, 480)


def test_sniff_gives_up_on_a_jpeg_header_of_too_many_segments() -> None:
    # A few dozen segments before the frame is plenty for any real file...
    assert sniff(crafted.jpeg_segment_flood(64, 48, segments=40)) == ImageInfo("jpeg", 64, 48)
    # ...and the walk stops at its bound instead of visiting every marker a file holds.
    with pytest.raises(NotAnImage, match="header segments"):
        sniff(crafted.jpeg_segment_flood(64, 48, segments=_MAX_JPEG_SEGMENTS))
    with pytest.raises(NotAnImage, match="header segments"):
        verify(crafted.jpeg_segment_flood(64, 48, segments=_MAX_JPEG_SEGMENTS))


def test_sniff_gives_up_on_a_long_run_of_jpeg_fill_bytes() -> None:
    assert sniff(crafted.jpeg_fill_flood(64, 48, fill=20)) == ImageInfo("jpeg", 64, 48)
    with pytest.raises(NotAnImage, match="fill bytes"):
        sniff(crafted.jpeg_fill_flood(64, 48, fill=_MAX_JPEG_FILL + 1))


@pytest.mark.parametrize(
    "craft",
    [
        pytest.param(lambda: crafted.jpeg_segment_flood(1024, 768), id="2.5M-empty-segments"),
        pytest.param(lambda: crafted.jpeg_fill_flood(1024, 768), id="10MB-of-fill"),
        pytest.param(lambda: b"\xff\xd8" + b"\xff\xd0" * 5_000_000, id="5M-standalone-markers"),
    ],
)
def test_a_10_mb_hostile_jpeg_header_is_refused_after_a_bounded_walk(
    craft: Callable[[], bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = craft()
    walked: list[int] = []
    real = imaging._JPEG_FILL

    class Counting:
        """The fill-byte matcher runs once per marker visited: count the visits."""

        def match(self, data: bytes, pos: int, end: int) -> re.Match[bytes] | None:
            walked.append(end - pos)
            return real.match(data, pos, end)

    monkeypatch.setattr(imaging, "_JPEG_FILL", Counting())

    with pytest.raises(NotAnImage):
        sniff(data)

    assert len(walked) <= _MAX_JPEG_SEGMENTS  # markers visited: the bound, not the file
    assert sum(walked) <= _MAX_JPEG_SEGMENTS * (_MAX_JPEG_FILL + 1)  # bytes scanned for fill


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"<html><body>502 Bad Gateway</body></html>",
        b'{"error": {"message": "nope"}}',
        b"GIF89a\x01\x00\x01\x00",
        b"\x89PNG\r\n\x1a\n",  # signature only
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x00\x00\x00\x00\x10",  # width 0
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",  # JPEG cut off before any frame
        b"\xff\xd8\xff\xda\x00\x08",  # scan before frame header
        b"RIFF\x00\x00\x00\x00WEBPVP8 ",  # WebP cut off
        b"RIFF\x00\x00\x00\x00WAVEfmt ",  # a RIFF that is not WebP
    ],
)
def test_sniff_rejects_what_is_not_a_readable_image(data: bytes) -> None:
    with pytest.raises(NotAnImage):
        sniff(data)


def test_fit_to_size_returns_small_images_untouched() -> None:
    data = encode(Image.new("RGB", (64, 64), (10, 20, 30)), "PNG")

    result = fit_to_size(data, len(data))

    assert result is not None
    assert result[0] is data
    assert result[1] == ImageInfo("png", 64, 64)


def test_fit_to_size_shrinks_a_big_noisy_png_under_the_cap() -> None:
    original = encode(noisy(1024, 768), "PNG", compress_level=1)
    cap = 200_000
    assert len(original) > 10 * cap

    result = fit_to_size(original, cap)

    assert result is not None
    data, info = result
    assert len(data) <= cap
    assert sniff(data) == info  # the reported info describes the returned bytes
    assert info.format in ("webp", "jpeg")
    assert info.width / info.height == pytest.approx(1024 / 768, rel=0.01)  # aspect kept
    with Image.open(io.BytesIO(data)) as decoded:  # and it really decodes
        assert decoded.size == (info.width, info.height)


def test_fit_to_size_keeps_full_size_when_quality_alone_is_enough() -> None:
    # A smooth image compresses well: lowering quality suffices, no need to lose pixels.
    gradient = Image.linear_gradient("L").resize((1024, 1024)).convert("RGB")
    original = encode(gradient, "PNG", compress_level=0)
    cap = 100_000
    assert len(original) > cap

    result = fit_to_size(original, cap)

    assert result is not None
    assert len(result[0]) <= cap
    assert (result[1].width, result[1].height) == (1024, 1024)


def test_fit_to_size_keeps_transparency() -> None:
    image = noisy(512, 512).convert("RGBA")
    image.putalpha(128)
    original = encode(image, "PNG")

    result = fit_to_size(original, len(original) // 4)

    assert result is not None
    with Image.open(io.BytesIO(result[0])) as decoded:
        assert decoded.mode == "RGBA"
        assert decoded.getpixel((5, 5))[3] == 128  # type: ignore[index]


def test_fit_to_size_gives_up_when_the_cap_is_impossible() -> None:
    original = encode(noisy(512, 512), "PNG")

    assert fit_to_size(original, 50) is None


def test_fit_to_size_refuses_non_images() -> None:
    with pytest.raises(NotAnImage):
        fit_to_size(b"not an image at all", 10)


def test_verify_rejects_a_png_cut_short_that_sniff_accepts() -> None:
    buffer = io.BytesIO()
    Image.effect_noise((256, 256), 64).convert("RGB").save(buffer, format="PNG")
    whole = buffer.getvalue()
    assert verify(whole).width == 256
    cut = whole[: len(whole) // 2]
    assert sniff(cut).width == 256  # the header alone looks fine...
    with pytest.raises(NotAnImage, match="damaged or cut short"):
        verify(cut)  # ...but the pixels are not all there


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
def test_verify_rejects_jpeg_and_webp_cut_short(fmt: str) -> None:
    buffer = io.BytesIO()
    Image.effect_noise((128, 128), 64).convert("RGB").save(buffer, format=fmt)
    whole = buffer.getvalue()
    assert verify(whole).width == 128
    with pytest.raises(NotAnImage, match="cut short"):
        verify(whole[: len(whole) * 2 // 3])


# -- hostile files ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("craft", "reason"),
    [
        pytest.param(lambda: crafted.pixel_bomb(), "over the 5308416-pixel cap", id="pixel-bomb"),
        pytest.param(lambda: crafted.wrong_size(20_000, 4), "a side over 8192", id="long-side"),
        pytest.param(lambda: crafted.text_bomb(256, 256), "a bomb", id="ztxt-bomb"),
        pytest.param(lambda: crafted.itxt_bomb(256, 256), "a bomb", id="itxt-bomb"),
        pytest.param(
            lambda: crafted.png(
                64,
                64,
                before=[crafted.chunk(b"iCCP", b"icc\x00\x00" + zlib.compress(bytes(2 << 20)))],
            ),
            "a bomb",
            id="iccp-bomb",
        ),
        pytest.param(lambda: crafted.overflowing_pixels(256, 256), "a bomb", id="idat-bomb"),
        pytest.param(lambda: crafted.cut_pixels(256, 256), "cut short", id="pixels-cut"),
        pytest.param(lambda: crafted.animated_png(64, 64), "animated", id="apng"),
        pytest.param(lambda: crafted.many_scans_jpeg(64, 64), "scans", id="jpeg-scans"),
        pytest.param(
            lambda: crafted.png(64, 64, depth=3), "header is malformed", id="png-bad-depth"
        ),
        pytest.param(
            lambda: crafted.png(
                64, 64, after=[crafted.chunk(b"tEXt", b"a\x00b"), crafted.chunk(b"IDAT", b"")]
            ),
            "split around",
            id="png-idat-split",
        ),
        pytest.param(
            lambda: crafted.png(64, 64, before=[crafted.chunk(b"tEXt", b"a\x00b")] * 20_001),
            "chunks",
            id="png-many-chunks",
        ),
    ],
)
def test_verify_refuses_bombs_and_odd_structures(craft: Callable[[], bytes], reason: str) -> None:
    data = craft()

    with pytest.raises(NotAnImage, match=reason):
        verify(data)
    with pytest.raises(NotAnImage):  # and never decodes it, even when asked to shrink it
        fit_to_size(data, 10)


def test_verify_refuses_a_pixel_stream_without_its_end() -> None:
    # Every row is there, but the zlib stream's Adler-32 is missing: the file was cut
    # exactly after its pixels, or the stream never ended. Only its end proves it whole.
    whole = crafted.png(64, 64)
    stream = crafted._zero_rows(64, 64 * 3)
    cut = crafted.png(64, 64, stream=stream[:-4])
    assert verify(whole) == ImageInfo("png", 64, 64)

    with pytest.raises(NotAnImage, match="end of its stream"):
        verify(cut)


def test_verify_holds_little_memory_for_one_huge_pixel_chunk() -> None:
    # A 2048×2048 RGBA PNG of noise whose pixel stream is one IDAT of about 16 MiB:
    # checking it must not copy the chunk step by step (it once held twice its size).
    import tracemalloc

    noise = random.Random(7).randbytes(2048 * 2048 * 4)
    rows = b"".join(b"\x00" + noise[y * 8192 : (y + 1) * 8192] for y in range(2048))
    data = crafted.png(2048, 2048, colour=6, stream=zlib.compress(rows, 1))
    del noise, rows
    tracemalloc.start()
    try:
        assert verify(data) == ImageInfo("png", 2048, 2048)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 4 << 20, f"verify held {peak / (1 << 20):.1f} MiB"


def test_verify_refuses_animated_webp() -> None:
    frames = [Image.new("RGB", (64, 64), colour) for colour in ("red", "blue")]
    out = io.BytesIO()
    frames[0].save(out, format="WEBP", save_all=True, append_images=frames[1:])

    with pytest.raises(NotAnImage, match="animated"):
        verify(out.getvalue())


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGB", "RGBA", "I;16"])
def test_verify_accepts_every_png_pillow_writes(mode: str) -> None:
    data = encode(noisy(97, 61).convert(mode), "PNG")

    assert verify(data) == ImageInfo("png", 97, 61)


def test_verify_counts_interlaced_png_pixel_data_per_pass() -> None:
    # Pillow cannot write Adam7; build one: 7 passes of zero rows, each with its filter byte.
    width, height = 37, 23
    passes = [
        ((height - y0 + dy - 1) // dy, 1 + ((width - x0 + dx - 1) // dx) * 3)
        for x0, y0, dx, dy in (
            (0, 0, 8, 8),
            (4, 0, 8, 8),
            (0, 4, 4, 8),
            (2, 0, 4, 4),
            (0, 2, 2, 4),
            (1, 0, 2, 2),
            (0, 1, 1, 2),
        )
    ]
    raw = b"".join(bytes(rows * row) for rows, row in passes if row > 1)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 1)
    data = (
        crafted.PNG_SIGNATURE
        + crafted.chunk(b"IHDR", header)
        + crafted.chunk(b"IDAT", zlib.compress(raw))
        + crafted.chunk(b"IEND", b"")
    )
    with Image.open(io.BytesIO(data)) as decoded:  # Pillow agrees it is whole
        decoded.load()

    assert verify(data) == ImageInfo("png", width, height)
    short = crafted.PNG_SIGNATURE + crafted.chunk(b"IHDR", header)
    short += crafted.chunk(b"IDAT", zlib.compress(raw[:-1])) + crafted.chunk(b"IEND", b"")
    with pytest.raises(NotAnImage, match="cut short"):
        verify(short)


@pytest.mark.parametrize(
    ("fmt", "options"),
    [("JPEG", {"progressive": True}), ("WEBP", {"quality": 80}), ("WEBP", {"lossless": True})],
)
def test_verify_accepts_ordinary_jpeg_and_webp(fmt: str, options: dict[str, object]) -> None:
    data = encode(noisy(120, 80), fmt, **options)

    assert verify(data) == sniff(data)


def test_verify_accepts_webp_with_alpha_and_a_jpeg_with_an_exif_thumbnail() -> None:
    rgba = noisy(90, 60).convert("RGBA")
    rgba.putalpha(100)
    assert verify(encode(rgba, "WEBP", quality=80)) == ImageInfo("webp", 90, 60)
    thumbnail = encode(noisy(16, 16), "JPEG")  # a whole JPEG (SOS and all) inside APP1
    exif = Image.Exif()
    exif[0x010E] = thumbnail.decode("latin-1")
    assert verify(encode(noisy(64, 48), "JPEG", exif=exif.tobytes())) == ImageInfo("jpeg", 64, 48)


def test_verify_refuses_a_webp_whose_frame_is_not_its_canvas() -> None:
    rgba = Image.new("RGBA", (90, 60), (0, 0, 0, 0))
    data = bytearray(encode(rgba, "WEBP", quality=80))
    assert data[12:16] == b"VP8X"
    data[24:27] = (4999).to_bytes(3, "little")  # canvas says 5000 wide

    with pytest.raises(NotAnImage, match="canvas"):
        verify(bytes(data))


@pytest.mark.parametrize(
    ("got", "ok"),
    [((1024, 768), True), ((1040, 752), True), ((1024, 700), False), ((2048, 1536), False)],
)
def test_expect_size_allows_a_little_rounding_only(got: tuple[int, int], ok: bool) -> None:
    info = ImageInfo("png", *got)
    if ok:
        expect_size(info, 1024, 768)
    else:
        with pytest.raises(NotAnImage, match="not the 1024×768 asked for"):
            expect_size(info, 1024, 768)


def test_fit_to_size_refuses_a_bomb_padded_past_the_limit_without_decoding_it() -> None:
    # ~430 MB of pixels in an 11 MB file: the old code decoded it (2 GB peak) to shrink it.
    bomb = crafted.pixel_bomb(12_000, 12_000, pad_to=11 * 1024 * 1024)
    started = time.process_time()

    with pytest.raises(NotAnImage, match="pixel cap"):
        fit_to_size(bomb, 10 * 1024 * 1024)
    assert time.process_time() - started < 1.0


def test_fit_to_size_refuses_what_pillow_sees_differently(monkeypatch: pytest.MonkeyPatch) -> None:
    data = encode(noisy(200, 100), "PNG")
    monkeypatch.setattr("bot.imaging.verify", lambda *_a, **_k: ImageInfo("png", 200, 100))
    monkeypatch.setattr("bot.imaging.sniff", lambda _d: ImageInfo("png", 100, 100))

    with pytest.raises(NotAnImage, match="decodes as 200×100"):
        fit_to_size(data, 10)


def test_fit_to_size_turns_any_decoder_failure_into_not_an_image() -> None:
    # Valid structure for verify, but a filter byte of 9 makes Pillow's decoder fail.
    rows = b"".join(b"\x09" + bytes(64 * 3) for _ in range(64))
    data = crafted.png(
        64, 64, stream=zlib.compress(rows), before=[crafted.chunk(b"zzZz", bytes(100))]
    )

    with pytest.raises(NotAnImage, match="cannot decode"):
        fit_to_size(data, 10)


async def test_decoding_runs_at_most_decode_workers_at_once() -> None:
    loop = asyncio.get_running_loop()
    started: asyncio.Queue[int] = asyncio.Queue()
    release = threading.Event()

    def job(number: int) -> int:
        loop.call_soon_threadsafe(started.put_nowait, number)
        release.wait(10)
        return number

    jobs = [asyncio.ensure_future(run_decoder(job, n)) for n in range(DECODE_WORKERS + 1)]
    running = {await started.get() for _ in range(DECODE_WORKERS)}
    try:
        # The next one must wait for a free worker (no thread of its own).
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(started.get(), 0.2)
    finally:
        release.set()
    assert sorted(await asyncio.gather(*jobs)) == list(range(DECODE_WORKERS + 1))
    assert len(running) == DECODE_WORKERS


def test_whatever_the_bytes_only_not_an_image_comes_out() -> None:
    """Mutated files (flipped, cut, inserted, deleted bytes) never escape as other errors:
    the member must read "not a usable image", not "something went wrong on my side"."""
    rng = random.Random(7)
    seeds = [
        encode(noisy(48, 32), fmt, **options)
        for fmt, options in (
            ("PNG", {}),
            ("JPEG", {"progressive": True}),
            ("JPEG", {}),
            ("WEBP", {"quality": 50}),
            ("WEBP", {"lossless": True}),
        )
    ]
    for _ in range(1500):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(len(data)) if data else 0
            action = rng.randrange(4)
            if action == 0 and data:
                data[at] = rng.randrange(256)
            elif action == 1:
                del data[at:]
            elif action == 2:
                data[at:at] = rng.randbytes(rng.randint(1, 8))
            else:
                del data[at : at + rng.randint(1, 16)]
        for attempt in (verify, lambda d: fit_to_size(d, 10)):
            with contextlib.suppress(NotAnImage):
                attempt(bytes(data))
