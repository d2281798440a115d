"""The rendition maker: an original in, a resized, upright, sRGB, metadata-free image out.

libvips' thumbnail does the work: it shrinks on load (a JPEG decoded at 1/2, 1/4 or 1/8 scale,
a WebP at any scale), so a 12-megapixel photo becomes a 256-pixel thumbnail without ever holding
the full-size pixels; it applies the EXIF orientation, imports the embedded ICC profile (or a
CMYK fallback) and exports sRGB, and loads only the first frame of an animation. Two inputs
take another road where it measured faster: a JPEG is loaded here at the largest 1/2^n scale
that still covers the box (as Pillow's ``draft()`` does; ``thumbnail_buffer`` keeps a 2x margin
and decodes twice the pixels), then ``thumbnail_image``; a GIF's first frame is decoded by
Pillow (libvips walks every frame of a GIF to open it). Every output is saved with
``keep=NONE``: no EXIF, XMP or ICC (sRGB is the implied default).

libvips' process-wide settings (cache off, one thread per operation) are in ``imaging.vips``.

``ENGINE_SETTINGS`` (in ``imaging.spec``, with the request and answer types, so that serving a
stored rendition never imports libvips) names the engine and its defaults; it is part of every
rendition's storage key, so changing a default below (quality, sharpening, chroma, effort) must
change it too.
"""

from __future__ import annotations

import io
import warnings
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from types import MappingProxyType

from PIL import Image

from image_service.domain.errors import InvalidInput, UnsupportedMediaType
from image_service.imaging.budget import PixelBudget
from image_service.imaging.spec import (
    ENGINE_SETTINGS,
    OUTPUT_FORMATS,
    QUARTER_TURNS,
    Rendered,
    RenderSpec,
    sniff_content_type,
)
from image_service.imaging.vips import pyvips

__all__ = ["ENGINE_SETTINGS", "OUTPUT_FORMATS", "RenderSpec", "Rendered", "render", "sniff_content_type"]

_DEFAULT_QUALITY = MappingProxyType({"jpeg": 80, "webp": 80, "avif": 55})
# Keyword arguments of each saver besides the quality: progressive-free, optimised Huffman JPEG
# (4:2:0 below Q90, libvips' rule); WebP and AVIF at libvips' default effort.
_SAVE_OPTIONS: MappingProxyType[str, dict[str, object]] = MappingProxyType(
    {
        "jpeg": {"optimize_coding": True},
        "png": {"compression": 6},
        "webp": {"effort": 4},
        "avif": {"effort": 4, "compression": "av1"},
    }
)
_UNBOUNDED = 10_000_000  # libvips' largest image dimension: "no bound on this side"
# JPEG shrink-on-load goes to 1/8; WebP scales on load by any factor; the others load full size.
_SHRINK_ON_LOAD = MappingProxyType({"jpegload_buffer": 8, "webpload_buffer": 1 << 16})


def render(data: bytes, spec: RenderSpec, *, budget: PixelBudget | None = None) -> Rendered:
    """Make the rendition ``spec`` of the encoded image ``data``; InvalidInput (400) for a bad
    spec, UnsupportedMediaType (415) for bytes that cannot be decoded."""
    _check(spec)
    try:
        source = _probe(data)
        fmt = spec.format or ("png" if source.alpha else "jpeg")
        box_width, box_height, crop = _box(source.width, source.height, spec)
        shrink = _shrink_on_load(source, (box_width, box_height), crop)
        pixels = (source.width // shrink + 1) * (source.height // shrink + 1)
        held: AbstractContextManager[None] = budget.hold(pixels) if budget else nullcontext()
        with held:
            image = source.thumbnail(box_width, box_height, crop, shrink)
            encoded = _save(image, fmt, spec.quality)
    except (pyvips.Error, OSError, SyntaxError, ValueError, EOFError) as exc:  # libvips; Pillow (GIF)
        raise UnsupportedMediaType("image could not be decoded for a rendition") from exc
    return Rendered(
        data=encoded, content_type=OUTPUT_FORMATS[fmt], format=fmt, width=image.width, height=image.height
    )


@dataclass(frozen=True, slots=True)
class _Source:
    """An original, probed from its header: its upright size, whether it has alpha, and how to
    make a thumbnail of it after a shrink-on-load by a factor of up to ``max_shrink``."""

    data: bytes
    width: int
    height: int
    alpha: bool
    max_shrink: int
    kind: str  # "jpeg" | "gif" | "vips"
    # Whether the pixels need a colour transform to become sRGB: an embedded profile other than
    # sRGB, or CMYK. Building the lcms transform costs 15-25 ms, more than the whole rendition
    # of a small image, and pixels without a profile (or tagged sRGB) are sRGB already.
    convert: bool = False

    def thumbnail(self, box_width: int, box_height: int, crop: bool, shrink: int) -> pyvips.Image:
        options: dict[str, object] = {
            "height": box_height,
            "size": "down",
            "crop": "centre" if crop else "none",
        }
        if self.convert:
            options["export_profile"] = "srgb"
        if self.kind == "vips":
            # Originals passed the upload gate; one damaged in storage is refused rather than
            # rendered with a grey bottom and stored for good.
            return pyvips.Image.thumbnail_buffer(
                self.data, box_width, option_string="fail_on=truncated", **options
            )
        return self._loaded(shrink).thumbnail_image(box_width, **options)

    def _loaded(self, shrink: int) -> pyvips.Image:
        if self.kind == "gif":
            return _gif_first_frame(self.data)
        return pyvips.Image.new_from_buffer(
            self.data, "", access="sequential", shrink=shrink, fail_on="truncated"
        )


def _probe(data: bytes) -> _Source:
    if data.startswith((b"GIF87a", b"GIF89a")):
        # 8.5 ms for libvips to open a GIF of 1,000 frames, 0.7 ms for Pillow to decode frame one.
        try:
            with _pillow_gif(data) as img:
                alpha = "transparency" in img.info or img.mode in ("RGBA", "LA", "PA")
                return _Source(data, img.width, img.height, alpha, 1, "gif")
        except Image.DecompressionBombError:
            pass  # the upload gate's own pixel limit allowed it: libvips renders it
    header = pyvips.Image.new_from_buffer(data, "", access="sequential")
    orientation = header.get("orientation") if header.get_typeof("orientation") else 1
    width, height = header.width, header.height
    if orientation in QUARTER_TURNS:
        width, height = height, width
    loader = str(header.get("vips-loader"))
    kind = "jpeg" if loader == "jpegload_buffer" else "vips"
    profile = header.get("icc-profile-data") if header.get_typeof("icc-profile-data") else None
    convert = header.interpretation == "cmyk" or (profile is not None and not _is_srgb(bytes(profile)))
    return _Source(
        data, width, height, bool(header.hasalpha()), _SHRINK_ON_LOAD.get(loader, 1), kind, convert
    )


def _is_srgb(profile: bytes) -> bool:
    """Whether an ICC profile is an RGB profile described as sRGB (its ``desc`` tag, in the
    ASCII of ICC v2 or the UTF-16 of v4's ``mluc``): the pixels are then sRGB as they are."""
    if profile[16:20] != b"RGB " or len(profile) < 132:
        return False
    count = int.from_bytes(profile[128:132], "big")
    for entry in range(132, min(132 + 12 * count, len(profile) - 11), 12):
        if profile[entry : entry + 4] == b"desc":
            offset = int.from_bytes(profile[entry + 4 : entry + 8], "big")
            size = int.from_bytes(profile[entry + 8 : entry + 12], "big")
            text = profile[offset : offset + size]
            return b"sRGB" in text or "sRGB".encode("utf-16-be") in text
    return False


def _pillow_gif(data: bytes) -> Image.Image:
    # The original passed the upload gate, whose pixel limit is the one that counts; Pillow's
    # own decompression-bomb warning would only be noise (its error sends the GIF to libvips).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return Image.open(io.BytesIO(data), formats=["GIF"])


def _gif_first_frame(data: bytes) -> pyvips.Image:
    with _pillow_gif(data) as img:
        alpha = "transparency" in img.info or img.mode in ("RGBA", "LA", "PA")
        frame = img.convert("RGBA" if alpha else "RGB")
    bands = 4 if alpha else 3
    image = pyvips.Image.new_from_memory(frame.tobytes(), frame.width, frame.height, bands, "uchar")
    return image.copy(interpretation="srgb")


def _check(spec: RenderSpec) -> None:
    if spec.width is None and spec.height is None:
        raise InvalidInput("a rendition needs a width or a height")
    if any(side is not None and side < 1 for side in (spec.width, spec.height)):
        raise InvalidInput("rendition width and height must be positive")
    if spec.fit not in ("inside", "cover"):
        raise InvalidInput("fit must be inside or cover")
    if spec.fit == "cover" and (spec.width is None or spec.height is None):
        raise InvalidInput("fit=cover needs both a width and a height")
    if spec.format is not None and spec.format not in OUTPUT_FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(OUTPUT_FORMATS)}")
    if spec.quality is not None and not 1 <= spec.quality <= 100:
        raise InvalidInput("quality must be between 1 and 100")


def _box(width: int, height: int, spec: RenderSpec) -> tuple[int, int, bool]:
    """The box to give ``thumbnail`` and whether to crop, for an upright ``width`` x ``height``."""
    if spec.fit == "inside":
        return spec.width or _UNBOUNDED, spec.height or _UNBOUNDED, False
    assert spec.width is not None and spec.height is not None  # _check: cover has both
    if spec.width <= width and spec.height <= height:
        return spec.width, spec.height, True
    # Never enlarge: the largest centred crop of the box's aspect ratio that fits the image.
    scale = min(width / spec.width, height / spec.height)
    return max(1, round(spec.width * scale)), max(1, round(spec.height * scale)), True


def _shrink_on_load(source: _Source, box: tuple[int, int], crop: bool) -> int:
    """The largest power of two the loader can shrink by that still leaves the box's pixels."""
    (width, height), (box_width, box_height) = (source.width, source.height), box
    ratios = (width / min(box_width, width), height / min(box_height, height))
    ratio = min(ratios) if crop else max(ratios)
    shrink = 1
    while shrink * 2 <= min(ratio, source.max_shrink):
        shrink *= 2
    return shrink


def _save(image: pyvips.Image, fmt: str, quality: int | None) -> bytes:
    if image.interpretation in ("rgb16", "grey16"):
        image = image.colourspace("srgb" if image.interpretation == "rgb16" else "b-w")
    if fmt == "jpeg" and image.hasalpha():
        image = image.flatten(background=[255])
    options = dict(_SAVE_OPTIONS[fmt])
    if fmt != "png":
        options["Q"] = quality or _DEFAULT_QUALITY[fmt]
    suffix = ".jpg" if fmt == "jpeg" else f".{fmt}"
    encoded: bytes = image.write_to_buffer(suffix, keep=pyvips.ForeignKeep.NONE, **options)
    return encoded
