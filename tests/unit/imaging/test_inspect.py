"""Tests for the image upload gate. Every image is generated here with Pillow; no binary fixtures."""

from __future__ import annotations

import dataclasses
import io
import random
import struct
import threading
import zlib
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms, ImageFile

from image_service.domain.errors import ImageServiceError, PayloadTooLarge, UnsupportedMediaType
from image_service.imaging import ACCEPTED_FORMATS, ImageInfo, PixelBudget, inspect_image

MAX_BYTES = 10_000_000
MAX_PIXELS = 50_000_000


def inspect(data: bytes, *, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS) -> ImageInfo:
    return inspect_image(data, max_bytes=max_bytes, max_pixels=max_pixels)


# --------------------------------------------------------------------------- image factories


def picture(size: tuple[int, int] = (64, 48), seed: int = 0) -> Image.Image:
    """A noisy RGB picture, so that encoders produce real entropy-coded data."""
    rng = random.Random(seed)
    width, height = size
    img = Image.new("RGB", size)
    img.putdata(
        [
            ((x * 7 + seed * 40) % 256, (y * 13) % 256, (x * y + rng.randrange(64)) % 256)
            for y in range(height)
            for x in range(width)
        ]
    )
    return img


def encode(img: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def jpeg(**params: object) -> bytes:
    return encode(picture(), "JPEG", quality=90, **params)


def png() -> bytes:
    return encode(picture(), "PNG")


def webp() -> bytes:
    return encode(picture(), "WEBP", quality=80)


def avif() -> bytes:
    return encode(picture(), "AVIF", quality=60)


def animated(fmt: str, frames: int = 3, size: tuple[int, int] = (40, 30)) -> bytes:
    images = [picture(size, seed=i) for i in range(frames)]
    buf = io.BytesIO()
    images[0].save(buf, fmt, save_all=True, append_images=images[1:], duration=100, loop=0)
    return buf.getvalue()


def jpeg_with_orientation(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return jpeg(exif=exif)


def png_claiming(width: int, height: int) -> bytes:
    """A tiny valid PNG whose IHDR is patched (CRC included) to declare width x height."""
    data = bytearray(encode(Image.new("1", (1, 1)), "PNG"))
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def webp_claiming(width: int, height: int) -> bytes:
    """An extended (VP8X) WebP whose canvas size is patched to width x height (RIFF has no CRC)."""
    exif = Image.Exif()
    exif[0x0112] = 1
    data = bytearray(encode(Image.new("RGB", (8, 8)), "WEBP", exif=exif))
    assert data[12:16] == b"VP8X"
    data[24:27] = (width - 1).to_bytes(3, "little")
    data[27:30] = (height - 1).to_bytes(3, "little")
    return bytes(data)


def jpeg_scan_start(data: bytes) -> int:
    """Offset just past the (first) SOS segment header of a baseline JPEG made by Pillow."""
    sos = data.index(b"\xff\xda")
    return sos + 2 + int.from_bytes(data[sos + 2 : sos + 4], "big")


# --------------------------------------------------------------------------- accepted images

VALID: dict[str, Callable[[], bytes]] = {
    "jpeg": jpeg,
    "progressive-jpeg": lambda: jpeg(progressive=True),
    "png": png,
    "webp": webp,
    "lossless-webp": lambda: encode(picture(), "WEBP", lossless=True),
    "gif": lambda: encode(picture(), "GIF"),
    "animated-gif": lambda: animated("GIF"),
    "animated-png": lambda: animated("PNG"),
    "animated-webp": lambda: animated("WEBP"),
    "avif": avif,
    "animated-avif": lambda: animated("AVIF"),
}


@pytest.mark.parametrize(
    ("make", "fmt", "content_type", "extension", "size", "frames"),
    [
        pytest.param(jpeg, "JPEG", "image/jpeg", "jpg", (64, 48), 1, id="jpeg"),
        pytest.param(
            VALID["progressive-jpeg"], "JPEG", "image/jpeg", "jpg", (64, 48), 1, id="progressive-jpeg"
        ),
        pytest.param(png, "PNG", "image/png", "png", (64, 48), 1, id="png"),
        pytest.param(webp, "WEBP", "image/webp", "webp", (64, 48), 1, id="webp"),
        pytest.param(VALID["lossless-webp"], "WEBP", "image/webp", "webp", (64, 48), 1, id="lossless-webp"),
        pytest.param(VALID["gif"], "GIF", "image/gif", "gif", (64, 48), 1, id="gif"),
        pytest.param(VALID["animated-gif"], "GIF", "image/gif", "gif", (40, 30), 3, id="animated-gif"),
        pytest.param(VALID["animated-png"], "PNG", "image/png", "png", (40, 30), 3, id="animated-png"),
        pytest.param(avif, "AVIF", "image/avif", "avif", (64, 48), 1, id="avif"),
        pytest.param(VALID["animated-avif"], "AVIF", "image/avif", "avif", (40, 30), 3, id="animated-avif"),
        pytest.param(VALID["animated-webp"], "WEBP", "image/webp", "webp", (40, 30), 3, id="animated-webp"),
    ],
)
def test_accepts_valid_images(
    make: Callable[[], bytes], fmt: str, content_type: str, extension: str, size: tuple[int, int], frames: int
) -> None:
    info = inspect(make())
    assert info == ImageInfo(
        format=fmt,
        content_type=content_type,
        extension=extension,
        width=size[0],
        height=size[1],
        orientation=None,
        frames=frames,
    )
    assert ACCEPTED_FORMATS[fmt] == (content_type, extension)


def test_image_info_is_frozen() -> None:
    info = inspect(png())
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.width = 1  # type: ignore[misc]


def test_accepted_formats_are_exactly_the_five_and_read_only() -> None:
    assert dict(ACCEPTED_FORMATS) == {
        "JPEG": ("image/jpeg", "jpg"),
        "PNG": ("image/png", "png"),
        "GIF": ("image/gif", "gif"),
        "WEBP": ("image/webp", "webp"),
        "AVIF": ("image/avif", "avif"),
    }
    with pytest.raises(TypeError):
        ACCEPTED_FORMATS["BMP"] = ("image/bmp", "bmp")  # type: ignore[index]


def test_multi_picture_jpeg_is_reported_as_jpeg() -> None:
    # Pillow calls a JPEG with an MPF index "MPO" (phones write these); it is still a JPEG.
    buf = io.BytesIO()
    picture((32, 24)).save(buf, "MPO", save_all=True, append_images=[picture((16, 12), seed=1)])
    info = inspect(buf.getvalue())
    assert (info.format, info.content_type, info.extension) == ("JPEG", "image/jpeg", "jpg")
    assert (info.width, info.height) == (32, 24)


def test_jpeg_with_data_after_end_of_image_is_accepted() -> None:
    # e.g. motion photos append a video after the EOI marker
    assert inspect(jpeg() + b"\x00\x00ftypmp42" + bytes(64)).format == "JPEG"


# --------------------------------------------------------------------------- EXIF orientation


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_exif_orientation_is_reported(orientation: int) -> None:
    assert inspect(jpeg_with_orientation(orientation)).orientation == orientation


def test_exif_orientation_in_webp_is_reported() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    assert inspect(encode(picture(), "WEBP", exif=exif)).orientation == 6


@pytest.mark.parametrize("orientation", [0, 9, 300])
def test_out_of_range_exif_orientation_is_ignored(orientation: int) -> None:
    assert inspect(jpeg_with_orientation(orientation)).orientation is None


def test_no_exif_means_no_orientation() -> None:
    assert inspect(jpeg()).orientation is None


# --------------------------------------------------------------------------- 413: too large


def test_more_bytes_than_allowed_is_413() -> None:
    data = jpeg()
    assert inspect(data, max_bytes=len(data)).format == "JPEG"
    with pytest.raises(PayloadTooLarge, match=f"image is larger than {len(data) - 1} bytes") as exc:
        inspect(data, max_bytes=len(data) - 1)
    assert exc.value.status == 413


def test_oversized_data_is_refused_before_parsing() -> None:
    with pytest.raises(PayloadTooLarge):
        inspect(b"not an image at all", max_bytes=4)


@pytest.mark.parametrize(
    ("data", "max_pixels"),
    [
        # 100M pixels: above our limit and above Pillow's own warning threshold (~89.5M)
        pytest.param(png_claiming(10_000, 10_000), MAX_PIXELS, id="png-10000x10000"),
        # 64M pixels: above our limit, below Pillow's threshold
        pytest.param(png_claiming(8_000, 8_000), MAX_PIXELS, id="png-8000x8000"),
        # 900M pixels: above Pillow's DecompressionBombError threshold
        pytest.param(png_claiming(30_000, 30_000), MAX_PIXELS, id="png-30000x30000"),
        # Pillow's WebP decoder would allocate this canvas on open: must be refused before that
        pytest.param(webp_claiming(10_000, 10_000), MAX_PIXELS, id="webp-canvas-10000x10000"),
        pytest.param(png(), 64 * 48 - 1, id="png-one-pixel-over"),
        pytest.param(jpeg(), 64 * 48 - 1, id="jpeg-one-pixel-over"),
        pytest.param(webp(), 64 * 48 - 1, id="webp-one-pixel-over"),
        pytest.param(encode(picture(), "GIF"), 64 * 48 - 1, id="gif-one-pixel-over"),
    ],
)
def test_too_many_pixels_is_413_from_the_header(
    data: bytes, max_pixels: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    def decoded(self: object, *args: object) -> None:
        raise AssertionError("the pixels were decoded")

    # Nothing is decoded: any pixel load fails the test (a clock would say the same, less surely).
    monkeypatch.setattr(ImageFile.ImageFile, "load", decoded)
    monkeypatch.setattr(Image.Image, "load", decoded)
    with pytest.raises(PayloadTooLarge, match="pixels") as exc:
        inspect(data, max_pixels=max_pixels)
    assert exc.value.status == 413


def test_header_pixel_message_names_the_size_and_limit() -> None:
    with pytest.raises(PayloadTooLarge) as exc:
        inspect(png_claiming(10_000, 10_000))
    assert exc.value.message == "image has 10000\u00d710000 pixels, more than the limit of 50000000"


def test_exactly_max_pixels_is_accepted() -> None:
    assert inspect(png(), max_pixels=64 * 48).width == 64


@pytest.mark.parametrize("fmt", ["GIF", "PNG", "WEBP"])
def test_animation_frames_count_towards_the_pixel_limit(fmt: str) -> None:
    data = animated(fmt, frames=3, size=(40, 30))
    assert inspect(data, max_pixels=3 * 40 * 30).width == 40
    with pytest.raises(PayloadTooLarge, match="in 3 frames"):
        inspect(data, max_pixels=3 * 40 * 30 - 1)


def test_gif_frame_growing_the_canvas_counts_towards_the_pixel_limit() -> None:
    data = bytearray(animated("GIF", frames=3, size=(40, 30)))
    descriptor = data.rindex(b"!\xf9\x04") + 8  # graphic control extension, then image descriptor
    assert data[descriptor : descriptor + 1] == b","
    data[descriptor + 1 : descriptor + 3] = (2000).to_bytes(2, "little")  # last frame at x=2000
    assert inspect(bytes(data), max_pixels=100_000).width == 40
    with pytest.raises(PayloadTooLarge, match="in total"):
        inspect(bytes(data), max_pixels=10_000)  # header: 3 x 40x30 fits; frame 3: 2040x30 does not


# --------------------------------------------------------------------------- 415: not a supported image


def test_empty_data_is_415() -> None:
    with pytest.raises(UnsupportedMediaType) as exc:
        inspect(b"")
    assert exc.value.status == 415


SVG = b"""<?xml version="1.0"?>
<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>"""


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(SVG, id="svg"),
        pytest.param(b"GIF89a<html><body><script>alert(1)</script></body></html>", id="html-as-gif89a"),
        pytest.param(b"<!DOCTYPE html><html><body>hi</body></html>", id="html"),
        pytest.param(b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n", id="pdf"),
        pytest.param(encode(picture(), "BMP"), id="bmp"),
        pytest.param(encode(picture(), "TIFF"), id="tiff"),
        pytest.param(encode(picture(), "ICO"), id="ico"),
        pytest.param(encode(picture(), "PPM"), id="ppm"),
        pytest.param(random.Random(1).randbytes(4096), id="random-bytes"),
        pytest.param(b"\x89PNG\r\n\x1a\n", id="png-signature-only"),
        pytest.param(b"\xff\xd8\xff", id="jpeg-soi-only"),
    ],
)
def test_unsupported_data_is_415(data: bytes) -> None:
    with pytest.raises(UnsupportedMediaType) as exc:
        inspect(data)
    assert exc.value.status == 415


@pytest.mark.parametrize("fmt", ["BMP", "TIFF"])
def test_unsupported_format_message_lists_accepted_formats(fmt: str) -> None:
    with pytest.raises(UnsupportedMediaType) as exc:
        inspect(encode(picture(), fmt))
    assert exc.value.message == "not a supported image; accepted: JPEG, PNG, GIF, WebP, AVIF"


# --------------------------------------------------------------------------- 415: incomplete / corrupt


def _jpeg_first_half() -> bytes:
    data = jpeg()
    return data[: len(data) // 2]


def _jpeg_header_then_zeros() -> bytes:
    data = jpeg()
    return data[:600] + bytes(len(data) - 600)


def _jpeg_scan_header_then_zeros() -> bytes:
    # libjpeg decodes zero bytes as valid entropy-coded data; Pillow alone accepts this one.
    data = jpeg()
    return data[: jpeg_scan_start(data)] + bytes(20_000)


def _jpeg_first_half_then_zeros() -> bytes:
    data = jpeg()
    return data[: len(data) // 2] + bytes(20_000)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(_jpeg_first_half(), id="jpeg-first-half"),
        pytest.param(_jpeg_header_then_zeros(), id="jpeg-600-byte-header-then-zeros"),
        pytest.param(_jpeg_scan_header_then_zeros(), id="jpeg-scan-header-then-zeros"),
        pytest.param(_jpeg_first_half_then_zeros(), id="jpeg-first-half-then-zeros"),
        pytest.param(jpeg()[:-2], id="jpeg-without-eoi"),
        pytest.param(jpeg(progressive=True)[:-200], id="progressive-jpeg-truncated"),
        pytest.param(png()[: len(png()) // 2], id="png-first-half"),
        pytest.param(png()[:-12], id="png-without-iend"),
        pytest.param(encode(picture(), "GIF")[:-200], id="gif-truncated"),
        # Pillow alone loads this as a 2-frame animation: only the missing trailer gives it away
        pytest.param(animated("GIF")[: animated("GIF").rindex(b"!\xf9\x04")], id="gif-cut-at-a-frame"),
    ],
)
def test_incomplete_image_is_415(data: bytes) -> None:
    with pytest.raises(UnsupportedMediaType, match="image data could not be decoded completely") as exc:
        inspect(data)
    assert exc.value.status == 415


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(webp()[:-10], id="webp-truncated"),
        pytest.param(animated("WEBP")[:-50], id="animated-webp-truncated"),
    ],
)
def test_incomplete_webp_is_415_when_opened(data: bytes) -> None:
    # libwebp checks the RIFF container when Pillow opens the file, so it is not even identified.
    with pytest.raises(UnsupportedMediaType) as exc:
        inspect(data)
    assert exc.value.status == 415


def test_pillow_alone_would_accept_a_jpeg_scan_followed_by_zeros() -> None:
    # Documents why inspect_image checks for the EOI marker itself.
    with Image.open(io.BytesIO(_jpeg_scan_header_then_zeros())) as img:
        img.load()
    with pytest.raises(UnsupportedMediaType):
        inspect(_jpeg_scan_header_then_zeros())


def test_corrupt_png_pixel_data_is_415() -> None:
    data = bytearray(png())
    idat = data.index(b"IDAT")
    data[idat + 20 : idat + 60] = bytes(40)  # breaks the zlib stream (and the chunk CRC)
    with pytest.raises(UnsupportedMediaType):
        inspect(bytes(data))


@pytest.mark.parametrize("name", sorted(VALID))
def test_every_truncation_of_a_valid_image_is_refused(name: str) -> None:
    data = VALID[name]()
    accepted = []
    for length in range(len(data)):
        try:
            inspect(data[:length])
        except UnsupportedMediaType:
            continue
        accepted.append(length)
    assert accepted == []


# --------------------------------------------------------------------------- robustness

_VALID_BYTES = {name: make() for name, make in VALID.items()}


@settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    name=st.sampled_from(sorted(VALID)),
    position=st.floats(min_value=0, max_value=1, exclude_max=True),
    patch=st.binary(min_size=1, max_size=16),
)
def test_corrupted_images_are_accepted_or_refused_cleanly(name: str, position: float, patch: bytes) -> None:
    data = bytearray(_VALID_BYTES[name])
    offset = int(position * len(data))
    data[offset : offset + len(patch)] = patch
    try:
        info = inspect(bytes(data), max_pixels=1_000_000)
    except ImageServiceError as exc:
        assert isinstance(exc, PayloadTooLarge | UnsupportedMediaType)
    else:
        assert info.format in ACCEPTED_FORMATS
        assert info.width * info.height <= 1_000_000


# --------------------------------------------------------------------------- frames, HEIC, budget


def gif_of_tiny_frames(frames: int) -> bytes:
    """A GIF of ``frames`` 1x1 frames, written block by block (Pillow would take seconds)."""
    header = b"GIF89a\x01\x00\x01\x00\x80\x00\x00" + b"\x00\x00\x00\xff\xff\xff"
    frame = (
        b"\x21\xf9\x04\x00\x00\x00\x00\x00"  # graphic control extension
        + b"\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00"  # image descriptor
        + b"\x02\x02\x44\x01\x00"  # LZW code size, one sub-block, terminator
    )
    return header + frame * frames + b";"


def test_gif_of_400000_frames_is_413_from_its_blocks() -> None:
    data = gif_of_tiny_frames(400_000)
    assert len(data) > 9_000_000
    with pytest.raises(PayloadTooLarge) as exc:
        inspect_image(data, max_bytes=len(data), max_pixels=MAX_PIXELS, max_frames=1000)
    assert exc.value.message == "image has more than 1000 frames"


def test_hand_written_gif_at_the_frame_limit_is_accepted() -> None:
    info = inspect_image(gif_of_tiny_frames(5), max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS, max_frames=5)
    assert (info.format, info.width, info.height, info.frames) == ("GIF", 1, 1, 5)
    with pytest.raises(PayloadTooLarge):
        inspect_image(gif_of_tiny_frames(6), max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS, max_frames=5)


@pytest.mark.parametrize("fmt", ["GIF", "PNG", "WEBP", "AVIF"])
def test_more_frames_than_allowed_is_413(fmt: str) -> None:
    data = animated(fmt, frames=3)
    assert inspect_image(data, max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS, max_frames=3).frames == 3
    with pytest.raises(PayloadTooLarge, match="more than 2 frames"):
        inspect_image(data, max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS, max_frames=2)


def test_frame_limit_defaults_to_1000() -> None:
    with pytest.raises(PayloadTooLarge, match="more than 1000 frames"):
        inspect(gif_of_tiny_frames(1001))
    assert inspect(gif_of_tiny_frames(1000)).frames == 1000


def heif_header(major: bytes, *compatible: bytes) -> bytes:
    brands = major + b"\x00\x00\x00\x00" + b"".join(compatible)
    ftyp = (8 + len(brands)).to_bytes(4, "big") + b"ftyp" + brands
    return ftyp + b"\x00\x00\x00\x08mdat" + bytes(64)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(heif_header(b"heic", b"mif1", b"heic"), id="heic"),
        pytest.param(heif_header(b"mif1", b"heic"), id="mif1-heic"),
        pytest.param(heif_header(b"hevc", b"msf1"), id="heic-sequence"),
        pytest.param(heif_header(b"mif1"), id="generic-heif"),
    ],
)
def test_heic_is_415_saying_so(data: bytes) -> None:
    with pytest.raises(UnsupportedMediaType) as exc:
        inspect(data)
    assert "HEIC" in exc.value.message and "not supported" in exc.value.message


def test_avif_with_the_generic_brand_first_is_still_avif() -> None:
    data = avif()
    assert data[8:12] == b"avif"
    ftyp_size = int.from_bytes(data[0:4], "big")
    patched = data[:8] + b"mif1" + data[12:ftyp_size].replace(b"mif1", b"avif", 1) + data[ftyp_size:]
    assert inspect(patched).format == "AVIF"


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: encode(Image.new("CMYK", (32, 24), (10, 200, 30, 5)), "JPEG"), id="cmyk-jpeg"),
        pytest.param(lambda: encode(Image.new("I;16", (32, 24), 40_000), "PNG"), id="16-bit-png"),
        pytest.param(
            lambda: encode(
                picture(),
                "JPEG",
                icc_profile=ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes(),
            ),
            id="icc-jpeg",
        ),
        pytest.param(lambda: encode(picture(), "JPEG", progressive=True), id="progressive-jpeg"),
        pytest.param(lambda: encode(picture(), "AVIF", quality=60, subsampling="4:4:4"), id="avif-444"),
    ],
)
def test_kinds_of_valid_images_are_accepted(make: Callable[[], bytes]) -> None:
    info = inspect(make())
    assert (info.width, info.height) in ((32, 24), (64, 48))


def test_decoding_holds_width_height_frames_of_the_budget() -> None:
    data = animated("GIF", frames=3)  # 40 x 30, 3 frames
    budget = PixelBudget(40 * 30 * 3)
    holding, release = threading.Event(), threading.Event()

    def holder() -> None:
        with budget.hold(1):
            holding.set()
            release.wait(10)

    results: list[ImageInfo] = []
    first = threading.Thread(target=holder)
    first.start()
    assert holding.wait(10)
    inspecting = threading.Thread(
        target=lambda: results.append(
            inspect_image(data, max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS, budget=budget)
        )
    )
    inspecting.start()
    for _ in range(1000):  # until the decode is queued: 1 + 3600 pixels do not fit in 3600
        if budget.waiting:
            break
        inspecting.join(0.01)
    assert budget.waiting == 1 and results == []
    release.set()
    first.join()
    inspecting.join()
    assert results[0].frames == 3
    assert budget.held == 0


@pytest.mark.parametrize("orientation", [3, 6])
def test_exif_orientation_in_png_is_reported_from_its_chunks(orientation: int) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    assert inspect(encode(picture(), "PNG", exif=exif)).orientation == orientation
    raw = exif.tobytes()
    text = b"\nexif\n" + str(len(raw)).rjust(8).encode() + b"\n" + raw.hex().encode() + b"\n"
    data = png()
    chunk = b"Raw profile type exif\x00\x00" + zlib.compress(text)
    ztxt = len(chunk).to_bytes(4, "big") + b"zTXt" + chunk + zlib.crc32(b"zTXt" + chunk).to_bytes(4, "big")
    assert inspect(data[:33] + ztxt + data[33:]).orientation == orientation
