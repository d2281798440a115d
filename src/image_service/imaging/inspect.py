"""The security gate for uploaded images: identify, size-check and fully decode untrusted bytes.

``inspect_image`` accepts only JPEG, PNG, GIF, WebP and AVIF. It refuses, in this order:

1. more than ``max_bytes`` bytes (413), or no bytes at all (415);
2. HEIC/HEIF (415 saying so: neither libvips as shipped in pyvips-binary nor Pillow has an HEVC
   decoder), recognised from the ISOBMFF brands before any decoder sees the data;
3. more than ``max_frames`` frames, counted from the raw container before Pillow opens it (413):
   GIF blocks and WebP ANMF chunks are walked without decoding, and the walk stops at the first
   frame over the limit, so a GIF of 400,000 tiny frames is refused at once instead of being
   decoded for seconds; APNG and AVIF sequences declare their count in the header;
4. anything Pillow does not identify as one of the accepted formats (415);
5. more than ``max_pixels`` pixels (width x height x frames) as declared by the header, before any
   pixel is decoded (413). PNG and WebP sizes are read from the raw header even before Pillow opens
   the data (Pillow's WebP plugin allocates the whole canvas on open); the others after opening;
6. a missing end-of-image marker: JPEG EOI after the first scan, PNG IEND chunk, GIF trailer (415).
   libjpeg happily "decodes" a scan followed by zeros, and a GIF cut at a frame boundary loads
   as a shorter animation, so the decoder alone cannot be trusted to spot truncation;
7. anything that fails to decode completely, every frame of an animation included (415).

Pillow identifies the image and reads its header; the full decode of a still image is done by
libvips (sequential, ``fail_on=error``), which streams it a strip at a time: measured on 2 cores
(benchmarks/bench_imaging.py) it takes about as long as Pillow's ``load()`` (12 MP JPEG ~0.1 s,
49 MP PNG ~0.8-1.0 s) but peaks at 12 MB instead of 46 MB for the JPEG and 15 MB instead of
187 MB for the PNG; and it is the engine that will make the renditions. Animations are decoded
frame by frame by Pillow, which checks each frame's size (a GIF frame may grow the canvas). The
decode runs under the process's pixel ``budget`` (``imaging.budget``), holding the declared
width x height x frames.

Pillow's global state (``Image.MAX_IMAGE_PIXELS``, ``ImageFile.LOAD_TRUNCATED_IMAGES``) is read,
never written. Pillow's own decompression-bomb error/warning is mapped to 413.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from image_service.domain.errors import ImageServiceError, PayloadTooLarge, UnsupportedMediaType
from image_service.imaging.budget import PixelBudget
from image_service.imaging.metadata_png import png_orientation

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["ACCEPTED_FORMATS", "ImageInfo", "inspect_image"]

ACCEPTED_FORMATS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "JPEG": ("image/jpeg", "jpg"),
        "PNG": ("image/png", "png"),
        "GIF": ("image/gif", "gif"),
        "WEBP": ("image/webp", "webp"),
        "AVIF": ("image/avif", "avif"),
    }
)

# Pillow reports a JPEG carrying an MPF index (common in phone photos) as "MPO"; the file is still
# a baseline JPEG stream and browsers show its first image, so it is accepted and reported as JPEG.
_FORMAT_ALIASES: Mapping[str, str] = MappingProxyType({"MPO": "JPEG"})

_UNSUPPORTED = "not a supported image; accepted: JPEG, PNG, GIF, WebP, AVIF"
_HEIC = "HEIC/HEIF images are not supported (no HEVC decoder); accepted: JPEG, PNG, GIF, WebP, AVIF"
_UNDECODABLE = "image data could not be decoded completely"

_TIMES = "\u00d7"  # MULTIPLICATION SIGN, as in "640 x 480" pixels
_EXIF_ORIENTATION = 0x0112
_PNG_IEND_CHUNK = b"\x00\x00\x00\x00IEND\xaeB`\x82"
_JPEG_EOI = b"\xff\xd9"
# JPEG markers without a length field: TEM and RST0..RST7 (SOI/EOI are handled explicitly).
_JPEG_STANDALONE_MARKERS = frozenset({0x01, *range(0xD0, 0xD8)})
# Still images whose full decode is left to libvips (streaming); animations are decoded frame by
# frame by Pillow, which checks each frame's size.
_STREAMED = frozenset({"JPEG", "PNG", "WEBP", "AVIF"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
# HEIF brands: HEVC stills and sequences, and the generic image/sequence brands without AVIF.
_HEIF_BRANDS = frozenset(
    {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
)


@dataclass(frozen=True, slots=True)
class ImageInfo:
    format: str  # Pillow format name: "JPEG" | "PNG" | "GIF" | "WEBP" | "AVIF"
    content_type: str  # "image/jpeg" | "image/png" | "image/gif" | "image/webp" | "image/avif"
    extension: str  # "jpg" | "png" | "gif" | "webp" | "avif"
    width: int
    height: int
    orientation: int | None  # EXIF orientation tag (1..8) if present, else None
    frames: int = 1  # frames of an animation, 1 for a still image


def inspect_image(
    data: bytes,
    *,
    max_bytes: int,
    max_pixels: int,
    max_frames: int = 1000,
    budget: PixelBudget | None = None,
) -> ImageInfo:
    """Identify and fully decode ``data``; raise PayloadTooLarge (413) or UnsupportedMediaType (415)."""
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"image is larger than {max_bytes} bytes")
    if not data:
        raise UnsupportedMediaType("image is empty")
    if _is_heif(data):
        raise UnsupportedMediaType(_HEIC)

    counted = _declared_frames(data, stop_after=max_frames)
    if counted is not None:
        _check_frames(counted, max_frames)
    declared = _declared_size(data)
    if declared is not None:
        _check_pixels(*declared, frames=1, max_pixels=max_pixels)

    from PIL import Image  # here, not at the top: a cold start that only reads never loads Pillow

    with warnings.catch_warnings():
        # Only escalate Pillow's bomb warning (to 413 below); other warnings keep the caller's filters.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return _inspect(data, max_pixels=max_pixels, max_frames=max_frames, budget=budget)
        except ImageServiceError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise PayloadTooLarge(f"image has more pixels than the limit of {max_pixels}") from exc


def _inspect(data: bytes, *, max_pixels: int, max_frames: int, budget: PixelBudget | None) -> ImageInfo:
    from PIL import Image

    try:
        img = Image.open(io.BytesIO(data), formats=list(ACCEPTED_FORMATS))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise
    except Exception as exc:
        raise UnsupportedMediaType(_UNSUPPORTED) from exc

    with img:
        pil_format = img.format or ""
        fmt = _FORMAT_ALIASES.get(pil_format, pil_format)
        if fmt not in ACCEPTED_FORMATS:
            raise UnsupportedMediaType(_UNSUPPORTED)
        content_type, extension = ACCEPTED_FORMATS[fmt]
        width, height = img.size
        try:
            # Header only: Pillow has parsed the frame count (GIF: by skipping blocks), not pixels.
            frames = max(1, int(getattr(img, "n_frames", 1)))
            _check_frames(frames, max_frames)
            _check_pixels(width, height, frames=frames, max_pixels=max_pixels)
            if not _has_end_marker(fmt, data):
                raise UnsupportedMediaType(_UNDECODABLE)
            orientation = png_orientation(data) if fmt == "PNG" else _orientation(img)
            held: AbstractContextManager[None] = (
                budget.hold(width * height * frames) if budget else nullcontext()
            )
            with held:
                if frames == 1 and fmt in _STREAMED:
                    _decode_streaming(data)
                else:
                    _decode_frames(img, frames, max_pixels)
        except (ImageServiceError, Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise
        except Exception as exc:  # OSError, SyntaxError, ValueError, struct.error, EOFError, ...
            raise UnsupportedMediaType(_UNDECODABLE) from exc

    return ImageInfo(
        format=fmt,
        content_type=content_type,
        extension=extension,
        width=width,
        height=height,
        orientation=orientation,
        frames=frames,
    )


def _decode_streaming(data: bytes) -> None:
    """Decode every pixel with libvips, a strip at a time: the whole image is never in memory."""
    from image_service.imaging.vips import pyvips  # here, like Pillow: not loaded by a cold start

    try:
        pyvips.Image.new_from_buffer(data, "", access="sequential", fail_on="error").avg()
    except pyvips.Error as exc:
        raise UnsupportedMediaType(_UNDECODABLE) from exc


def _decode_frames(img: Image.Image, frames: int, max_pixels: int) -> None:
    decoded = 0
    for index in range(frames):
        img.seek(index)
        # A GIF frame may enlarge the canvas and MPO frames differ in size: re-check each one.
        frame_width, frame_height = img.size
        decoded += frame_width * frame_height
        if decoded > max_pixels:
            raise PayloadTooLarge(
                f"image frames have {decoded} pixels in total, more than the limit of {max_pixels}"
            )
        img.load()


def _check_frames(frames: int, max_frames: int) -> None:
    if frames > max_frames:
        raise PayloadTooLarge(f"image has more than {max_frames} frames")


def _check_pixels(width: int, height: int, *, frames: int, max_pixels: int) -> None:
    if width * height * frames <= max_pixels:
        return
    in_frames = f" in {frames} frames" if frames > 1 else ""
    raise PayloadTooLarge(
        f"image has {width}{_TIMES}{height} pixels{in_frames}, more than the limit of {max_pixels}"
    )


def _orientation(img: Image.Image) -> int | None:
    value = img.getexif().get(_EXIF_ORIENTATION)
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 8:
        return value
    return None


def _has_end_marker(fmt: str, data: bytes) -> bool:
    if fmt == "JPEG":
        return _jpeg_has_eoi_after_scan(data)
    if fmt == "PNG":
        return data.find(_PNG_IEND_CHUNK, 8) != -1
    if fmt == "GIF":
        return data.endswith(b";")
    return True  # WebP, AVIF: libwebp and libavif refuse a container shorter than it declares


def _jpeg_has_eoi_after_scan(data: bytes) -> bool:
    """Walk the marker segments to the first SOS; the entropy-coded data after it must reach an EOI.

    Inside entropy-coded data every 0xFF byte is stuffed (FF 00) or a restart marker, so FF D9 there
    is a real EOI. Data after the EOI (e.g. a motion-photo video) is allowed.
    """
    if not data.startswith(b"\xff\xd8"):
        return False
    pos = 2
    end = len(data)
    while pos + 1 < end:
        if data[pos] != 0xFF:
            # Extraneous bytes between segments (libjpeg tolerates them too): resync on the next 0xFF.
            pos = data.find(b"\xff", pos)
            if pos == -1:
                return False
            continue
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _JPEG_STANDALONE_MARKERS:
            pos += 2
            continue
        if marker in (0xD8, 0xD9) or pos + 4 > end:  # SOI/EOI before any scan, or truncated header
            return False
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 2:
            return False
        pos += 2 + length
        if marker == 0xDA:  # SOS: entropy-coded data starts after the scan header
            return data.find(_JPEG_EOI, pos) != -1
    return False


def _declared_size(data: bytes) -> tuple[int, int] | None:
    """Size declared by a PNG or WebP header, read without Pillow.

    Refusing here keeps Pillow from ever allocating a WebP canvas (done when the file is opened) and
    from reaching its own decompression-bomb warning for these formats. Both signatures are specific
    enough not to misread other data; GIF's 6-byte one is not (HTML may start with "GIF89a"), so GIF
    and JPEG are size-checked once Pillow has parsed their headers.
    """
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if len(data) < 30 or not data.startswith(b"RIFF") or data[8:12] != b"WEBP":
        return None
    chunk = data[12:16]
    if chunk == b"VP8X":
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    if chunk == b"VP8L" and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        return int.from_bytes(data[26:28], "little") & 0x3FFF, int.from_bytes(data[28:30], "little") & 0x3FFF
    return None


def _brands(data: bytes) -> set[bytes]:
    """The major and compatible brands of an ISOBMFF ``ftyp`` box at the start of ``data``."""
    if len(data) < 16 or data[4:8] != b"ftyp":
        return set()
    size = min(int.from_bytes(data[0:4], "big"), len(data), 4096)
    return {data[8:12]} | {data[pos : pos + 4] for pos in range(16, size - 3, 4)}


def _is_heif(data: bytes) -> bool:
    brands = _brands(data)
    return bool(brands & _HEIF_BRANDS) and not brands & _AVIF_BRANDS


def _declared_frames(data: bytes, *, stop_after: int) -> int | None:
    """Frames of a GIF or WebP counted from its blocks, never past ``stop_after + 1``; None for
    other formats or a container too broken to walk (the decoder then judges it)."""
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return _gif_frames(data, stop_after)
    if len(data) >= 16 and data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return _webp_frames(data, stop_after)
    return None


def _gif_frames(data: bytes, stop_after: int) -> int | None:
    end = len(data)
    if end < 13:
        return None
    flags = data[10]
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    frames = 0
    while pos < end and frames <= stop_after:
        block = data[pos]
        if block == 0x3B:  # trailer
            break
        if block == 0x21:  # extension: label, then sub-blocks
            pos += 2
        elif block == 0x2C:  # image descriptor, optional local colour table, LZW code size, sub-blocks
            if pos + 10 > end:
                return None
            local = data[pos + 9]
            pos += 10 + (3 << ((local & 7) + 1) if local & 0x80 else 0) + 1
            frames += 1
        else:
            return None
        while pos < end and (size := data[pos]) != 0:
            pos += size + 1
        pos += 1
    return frames


def _webp_frames(data: bytes, stop_after: int) -> int:
    pos, end, frames = 12, len(data), 0
    while pos + 8 <= end and frames <= stop_after:
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        if data[pos : pos + 4] == b"ANMF":
            frames += 1
        pos += 8 + size + (size & 1)
    return max(frames, 1)
