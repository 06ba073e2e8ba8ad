"""Image sniffing and re-encoding: the bot must recognise what it downloads and fit uploads."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image

from bot.imaging import ImageInfo, NotAnImage, fit_to_size, sniff, verify


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
