"""A rendition request as HTTP gives it: the query parameters (``w``, ``h``, ``fit``, ``format``,
``quality``) validated into a ``RenditionRequest``, and ``format=auto`` negotiated from
``Accept``. The service (``services/renditions.py``) takes both and never sees HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping

from image_service.domain.errors import InvalidInput
from image_service.services.renditions import RenditionRequest

PARAMETERS = frozenset({"w", "h", "fit", "format", "quality"})
FITS = ("inside", "cover")
FORMATS = ("auto", "jpeg", "png", "webp", "avif")
FORMAT_ALIASES = {"jpg": "jpeg"}
QUALITY_STEP = 10


def wants_rendition(params: Mapping[str, str]) -> bool:
    return not PARAMETERS.isdisjoint(params)


def parse_request(params: Mapping[str, str], sizes: tuple[int, ...]) -> RenditionRequest:
    """The rendition parameters of a query; InvalidInput (400) for any value not allowed, or
    given twice (``w=256&w=512`` has no one meaning)."""
    getlist = getattr(params, "getlist", None)
    if getlist is not None:
        for name in sorted(PARAMETERS):
            if len(getlist(name)) > 1:
                raise InvalidInput(f"{name} may be given once")
    width, height = _size(params, "w", sizes), _size(params, "h", sizes)
    fit = params.get("fit", "inside").lower()
    if fit not in FITS:
        raise InvalidInput("fit must be inside or cover")
    if fit == "cover" and (width is None or height is None):
        raise InvalidInput("fit=cover needs both w and h")
    fmt = params.get("format", "auto").lower()
    fmt = FORMAT_ALIASES.get(fmt, fmt)
    if fmt not in FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(FORMATS)}")
    quality = _integer(params, "quality")
    if quality is not None:
        if not 1 <= quality <= 100:
            raise InvalidInput("quality must be between 1 and 100")
        # Rounded up to a step of 10, so that quality gives 10 renditions per size, not 100:
        # the size ladder's bound on what one image may cost in storage and CPU holds.
        quality = -(-quality // QUALITY_STEP) * QUALITY_STEP
    return RenditionRequest(width, height, fit, fmt, quality)


def _size(params: Mapping[str, str], name: str, sizes: tuple[int, ...]) -> int | None:
    value = _integer(params, name)
    if value is not None and value not in sizes:
        raise InvalidInput(f"{name} must be one of the rendition sizes: {', '.join(map(str, sizes))}")
    return value


def _integer(params: Mapping[str, str], name: str) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 6:
        raise InvalidInput(f"{name} must be a positive integer")
    return int(raw)


def negotiate(fmt: str, accept: str | None, *, auto_avif: bool) -> str | None:
    """The output format of ``auto``: AVIF (only with ``auto_avif``) or WebP when ``Accept`` names
    it with a non-zero q; else None, the engine's JPEG (PNG for images with transparency).
    Wildcards do not count: clients that send only ``*/*`` include ones that cannot show WebP."""
    if fmt != "auto":
        return fmt
    accepted = _accepted(accept)
    if auto_avif and "image/avif" in accepted:
        return "avif"
    if "image/webp" in accepted:
        return "webp"
    return None


def _accepted(accept: str | None) -> set[str]:
    types: set[str] = set()
    for item in (accept or "").split(","):
        media, *params = item.split(";")
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0  # a q we cannot read: not a yes
        if quality > 0:
            types.add(media.strip().lower())
    return types
