"""What a rendition is asked for and what comes out, without the engine: ``render`` (in
``imaging.render``) loads libvips, and serving a rendition that is already stored must not.

``ENGINE_SETTINGS`` names the engine and its defaults (``imaging.render``): it is part of every
rendition's storage key, so changing a default there (quality, sharpening, chroma, effort) must
change it here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

ENGINE_SETTINGS = "vips1"

# EXIF orientations 5..8 turn the picture a quarter: the upright image has width and height swapped.
QUARTER_TURNS = frozenset({5, 6, 7, 8})

OUTPUT_FORMATS = MappingProxyType(
    {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "avif": "image/avif"}
)


@dataclass(frozen=True, slots=True)
class RenderSpec:
    width: int | None  # box width (None: only height bounds)
    height: int | None
    fit: str = "inside"  # "inside" | "cover" (cover needs both)
    format: str | None = None  # "jpeg" | "png" | "webp" | "avif"; None: png if the image has alpha, else jpeg
    quality: int | None = None  # None: the engine's default for the format


@dataclass(frozen=True, slots=True)
class Rendered:
    data: bytes
    content_type: str  # "image/jpeg" ...
    format: str  # "jpeg" | "png" | "webp" | "avif"
    width: int
    height: int


def sniff_content_type(data: bytes) -> str:
    """The content type of an encoded image from its magic bytes ("application/octet-stream" if unknown)."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp" and data[8:12] in (b"avif", b"avis"):
        return "image/avif"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    return "application/octet-stream"
