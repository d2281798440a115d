"""Renditions: an image resized and re-encoded on request, made once and then served from storage.

A request (``w``, ``h``, ``fit``, ``format``, ``quality``; parsed, and its ``auto`` format
negotiated from ``Accept``, by ``api/renditions.py``) is normalised against the image into a
token: a rendition never enlarges, so every box at least the image's own size names the same
object. The object's key and its ETag follow from the token without reading anything, so a 304
costs no storage read.

The first request for a token renders it from the original and stores it with a conditional
create; later requests read the stored object and never decode the original again. Within a
process, one lock per key makes N concurrent first requests render once; across processes,
``put_new`` lets exactly one writer win and the others serve the winner's object.

The engine (``imaging.render``, which loads libvips) is imported only when a rendition must be
made; the request and answer types come from ``imaging.spec``, so the original's GET, a stored
rendition's GET and a Lambda cold start never load it.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import weakref
from dataclasses import dataclass

from image_service.domain.errors import NotFound
from image_service.domain.models import Image
from image_service.domain.renditions import rendition_key
from image_service.imaging.spec import (
    ENGINE_SETTINGS,
    OUTPUT_FORMATS,
    QUARTER_TURNS,
    RenderSpec,
    sniff_content_type,
)
from image_service.services.context import Context

log = logging.getLogger(__name__)

# A file name's extension for each output type (JPEG's usual one is not its format's name).
EXTENSIONS = {content_type: "jpg" if fmt == "jpeg" else fmt for fmt, content_type in OUTPUT_FORMATS.items()}


@dataclass(frozen=True, slots=True)
class RenditionRequest:
    """What a client asked for, validated; ``format`` may still be ``auto``."""

    width: int | None = None
    height: int | None = None
    fit: str = "inside"
    format: str = "auto"
    quality: int | None = None

    def query(self) -> dict[str, str]:
        """The request as query parameters, in one order and spelling, defaults left out: what a
        rendition URL carries and a signed one signs."""
        params = {
            "w": self.width,
            "h": self.height,
            "fit": None if self.fit == "inside" else self.fit,
            "format": None if self.format == "auto" else self.format,
            "quality": self.quality,
        }
        return {name: str(value) for name, value in params.items() if value is not None}


THUMBNAIL = RenditionRequest(width=256)  # the list's thumbnail_url


@dataclass(frozen=True, slots=True)
class Rendition:
    """One rendition of one image, as known before reading anything."""

    image: Image
    key: str
    etag: str
    spec: RenderSpec
    varies: bool  # the format was chosen from Accept: the answer carries Vary: Accept

    @property
    def content_type(self) -> str | None:
        """None when the engine picks JPEG or PNG by the image's transparency."""
        return None if self.spec.format is None else OUTPUT_FORMATS[self.spec.format]


def plan(ctx: Context, image: Image, wanted: RenditionRequest, output: str | None) -> Rendition:
    """``output``: the format to make (``wanted.format``, or for ``auto`` what the client's
    ``Accept`` allows, negotiated by the API); None for the engine's JPEG or PNG."""
    fmt = output
    if fmt is None and image.format == "JPEG":
        fmt = "jpeg"  # a JPEG has no transparency: the engine's choice is known before reading
    width, height = _box(image, wanted)
    quality = None if fmt == "png" else wanted.quality  # lossless: quality changes nothing
    spec = RenderSpec(width=width, height=height, fit=wanted.fit, format=fmt, quality=quality)
    token = f"{width or 0}x{height or 0}-{wanted.fit}-{fmt or 'default'}-q{quality or 0}-{_engine()}"
    etag = hashlib.sha256(f"{image.checksum_sha256}\n{token}".encode()).hexdigest()[:32]
    return Rendition(image, rendition_key(image.image_id, token), f'"r{etag}"', spec, wanted.format == "auto")


def _box(image: Image, wanted: RenditionRequest) -> tuple[int | None, int | None]:
    """The box to render: the one asked for, or, when it would enlarge, one that does not (the
    image's own size; for cover the largest crop of the box's shape), so that every such box
    shares one object."""
    width, height = image.width, image.height
    if image.orientation in QUARTER_TURNS:
        width, height = height, width
    if wanted.fit == "cover":
        assert wanted.width is not None and wanted.height is not None  # parse_request's rule
        scale = max(wanted.width / width, wanted.height / height)
        if scale <= 1:
            return wanted.width, wanted.height
        return max(1, round(wanted.width / scale)), max(1, round(wanted.height / scale))
    scale_w = wanted.width / width if wanted.width else None
    scale_h = wanted.height / height if wanted.height else None
    scales = [s for s in (scale_w, scale_h) if s is not None]
    if not scales or min(scales) >= 1:
        return width, height
    # Only the side that binds: w=64&h=4096, w=64&h=3072 and w=64 are one rendition.
    if scale_w is not None and (scale_h is None or scale_w <= scale_h):
        return wanted.width, None
    return None, wanted.height


@functools.cache
def _engine() -> str:
    """The engine's settings, in every token: a change of defaults makes new objects."""
    return hashlib.sha256(ENGINE_SETTINGS.encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class StoredRendition:
    data: bytes
    content_type: str

    @property
    def extension(self) -> str:
        return EXTENSIONS.get(self.content_type, "img")


def stored(ctx: Context, rendition: Rendition) -> StoredRendition | None:
    """The rendition's stored object, or None when it was not made yet."""
    data = _stored(ctx, rendition.key)
    return None if data is None else StoredRendition(data, rendition.content_type or sniff_content_type(data))


def get_or_make(ctx: Context, rendition: Rendition) -> StoredRendition:
    """The rendition's bytes: the stored object, or, the first time, rendered and stored."""
    found = stored(ctx, rendition)
    if found is None:
        with _flight(rendition.key):
            # Re-checked under the lock: a request that waited for the one rendering finds it.
            found = stored(ctx, rendition)
            if found is None:
                return _make(ctx, rendition)
    return found


def _make(ctx: Context, rendition: Rendition) -> StoredRendition:
    from image_service.imaging.budget import process_budget
    from image_service.imaging.render import render

    original = ctx.blobs.get(rendition.image.blob_key)
    made = render(original, rendition.spec, budget=process_budget(ctx.limits.pixel_budget))
    stored = ctx.blobs.put_new(rendition.key, made.data, made.content_type)
    if stored:
        try:
            ctx.catalog.get(rendition.image.image_id)
        except NotFound:
            # Deleted while this was rendering: its renditions were removed before this one
            # existed. Take it back, so a delete leaves none behind.
            ctx.blobs.delete(rendition.key)
            raise
    # Every render is logged, kept or not: the log is how one tells renders from reads.
    log.info(
        "rendition made", extra={"image_id": rendition.image.image_id, "key": rendition.key, "stored": stored}
    )
    if stored:
        return StoredRendition(made.data, made.content_type)
    # Another process stored it first: serve its object, so every client sees the same bytes
    # under the same ETag.
    data = _stored(ctx, rendition.key)
    return (
        StoredRendition(made.data, made.content_type)
        if data is None
        else StoredRendition(data, sniff_content_type(data))
    )


def _stored(ctx: Context, key: str) -> bytes | None:
    try:
        return ctx.blobs.get(key)
    except NotFound:
        return None


# One lock per rendition key while anyone holds or waits for it: the weak dictionary forgets a
# key's lock once the last request for it has let go, so the table never grows with the catalog.
_locks: weakref.WeakValueDictionary[str, threading.Lock] = weakref.WeakValueDictionary()
_locks_guard = threading.Lock()


def _flight(key: str) -> threading.Lock:
    with _locks_guard:
        lock = _locks.get(key)
        if lock is None:
            lock = _locks[key] = threading.Lock()
        return lock
