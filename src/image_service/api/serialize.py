"""How an Image looks on the wire: the fields of ``schemas.ImageOut``, read from the Image."""

from __future__ import annotations

from operator import attrgetter
from typing import Any

from image_service.api.schemas import ImageOut
from image_service.domain.models import Image, format_time
from image_service.domain.text import unindexed_words

# ImageOut is the one list of wire fields (and the OpenAPI schema): each is read from the Image
# attribute of the same name (or the one ``ATTRIBUTE_OF`` names, where the wire keeps an older
# spelling), so a field added there is answered here too. One attrgetter call fetches them all
# in C, and the dict keeps ImageOut's order; the few values JSON cannot carry as they are
# (tuple, enum, datetime) are then replaced in place, which keeps their position.
ATTRIBUTE_OF = {"s3_key": "blob_key"}  # wire field -> Image attribute, where they differ
_FIELDS = tuple(ImageOut.model_fields)
_values = attrgetter(*(ATTRIBUTE_OF.get(name, name) for name in _FIELDS))


def image_json(image: Image) -> dict[str, Any]:
    out = dict(zip(_FIELDS, _values(image), strict=True))
    out["tags"] = list(image.tags)
    out["visibility"] = image.visibility.value
    out["created_at"] = format_time(image.created_at)
    out["updated_at"] = format_time(image.updated_at)
    if image.last_accessed_at is not None:
        out["last_accessed_at"] = format_time(image.last_accessed_at)
    return out


def search_note(images: list[Image]) -> dict[str, Any]:
    """``unindexed_words`` for an upload's or an edit's answer, when some words are past the
    searchable cap (``domain.text.MAX_INDEXED_WORDS``); nothing otherwise."""
    total = sum(unindexed_words(i.title, i.description) for i in images)
    return {"unindexed_words": total} if total else {}
