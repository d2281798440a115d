"""The security gate for uploaded images: identify, size-check and fully decode untrusted bytes.

``inspect_image`` accepts only JPEG, PNG, GIF and WebP. It refuses, in this order:

1. more than ``max_bytes`` bytes (413), or no bytes at all (415);
2. anything Pillow does not identify as one of the accepted formats (415);
3. more than ``max_pixels`` pixels (width x height x frames) as declared by the header, before any
   pixel is decoded (413). PNG and WebP sizes are read from the raw header even before Pillow opens
   the data (Pillow's WebP plugin allocates the whole canvas on open); GIF and JPEG after opening;
4. a missing end-of-image marker: JPEG EOI after the first scan, PNG IEND chunk, GIF trailer (415).
   libjpeg happily "decodes" a scan followed by zeros, and a GIF cut at a frame boundary loads
   as a shorter animation, so the decoder alone cannot be trusted to spot truncation;
5. anything that fails to decode completely, every frame of an animation included (415).

Pillow's global state (``Image.MAX_IMAGE_PIXELS``, ``ImageFile.LOAD_TRUNCATED_IMAGES``) is read,
never written. Pillow's own decompression-bomb error/warning is mapped to 413.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from PIL import Image

from image_service.domain.errors import ImageServiceError, PayloadTooLarge, UnsupportedMediaType

__all__ = ["ACCEPTED_FORMATS", "ImageInfo", "inspect_image"]

ACCEPTED_FORMATS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "JPEG": ("image/jpeg", "jpg"),
        "PNG": ("image/png", "png"),
        "GIF": ("image/gif", "gif"),
        "WEBP": ("image/webp", "webp"),
    }
)

# Pillow reports a JPEG carrying an MPF index (common in phone photos) as "MPO"; the file is still
# a baseline JPEG stream and browsers show its first image, so it is accepted and reported as JPEG.
_FORMAT_ALIASES: Mapping[str, str] = MappingProxyType({"MPO": "JPEG"})

_UNSUPPORTED = "not a supported image; accepted: JPEG, PNG, GIF, WebP"
_UNDECODABLE = "image data could not be decoded completely"

_TIMES = "\u00d7"  # MULTIPLICATION SIGN, as in "640 x 480" pixels
_EXIF_ORIENTATION = 0x0112
_PNG_IEND_CHUNK = b"\x00\x00\x00\x00IEND\xaeB`\x82"
_JPEG_EOI = b"\xff\xd9"
# JPEG markers without a length field: TEM and RST0..RST7 (SOI/EOI are handled explicitly).
_JPEG_STANDALONE_MARKERS = frozenset({0x01, *range(0xD0, 0xD8)})


@dataclass(frozen=True, slots=True)
class ImageInfo:
    format: str  # Pillow format name: "JPEG" | "PNG" | "GIF" | "WEBP"
    content_type: str  # "image/jpeg" | "image/png" | "image/gif" | "image/webp"
    extension: str  # "jpg" | "png" | "gif" | "webp"
    width: int
    height: int
    orientation: int | None  # EXIF orientation tag (1..8) if present, else None


def inspect_image(data: bytes, *, max_bytes: int, max_pixels: int) -> ImageInfo:
    """Identify and fully decode ``data``; raise PayloadTooLarge (413) or UnsupportedMediaType (415)."""
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"image is larger than {max_bytes} bytes")
    if not data:
        raise UnsupportedMediaType("image is empty")

    declared = _declared_size(data)
    if declared is not None:
        _check_pixels(*declared, frames=1, max_pixels=max_pixels)

    with warnings.catch_warnings():
        # Only escalate Pillow's bomb warning (to 413 below); other warnings keep the caller's filters.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return _inspect(data, max_pixels=max_pixels)
        except ImageServiceError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise PayloadTooLarge(f"image has more pixels than the limit of {max_pixels}") from exc


def _inspect(data: bytes, *, max_pixels: int) -> ImageInfo:
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
            _check_pixels(width, height, frames=frames, max_pixels=max_pixels)
            if not _has_end_marker(fmt, data):
                raise UnsupportedMediaType(_UNDECODABLE)
            orientation = _orientation(img)
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
    )


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
    return True  # WebP: libwebp refuses a RIFF container shorter than it declares


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
