"""The upload request body as the OpenAPI document describes it (``POST /images``).

The route reads the body itself (upload_parsing.py: JSON or multipart, one file or a batch), so
FastAPI cannot derive this from a model: it is written here, with every field upload_parsing
accepts and the bounds domain/validation.py enforces.
"""

from __future__ import annotations

from typing import Any

from image_service.domain import validation
from image_service.services.uploads import MAX_BATCH_FILES

# A 1x1 PNG: "Try it out" in /docs uploads it as it is.
EXAMPLE_PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGM4IScHAAK2AQU0pnWqAAAAAElFTkSuQmCC"


def _anchored(pattern: str) -> str:
    return f"^{pattern}$"


METADATA: dict[str, dict[str, Any]] = {
    "user_id": {
        "type": "string",
        "pattern": _anchored(validation.USER_PATTERN.pattern),
        "description": "The owner. With an API key it must be the key's user (or the key an admin's);"
        " with IMAGE_SERVICE_AUTH=none it names the owner (default `anonymous`).",
    },
    "filename": {
        "type": "string",
        "maxLength": validation.MAX_FILENAME,
        "description": "As uploaded, for Content-Disposition",
    },
    "name": {
        "type": "string",
        "pattern": _anchored(validation.NAME_PATTERN.pattern),
        "description": "Unique; served at `/{name}`. Default `<image_id>.<ext>`. A name a route of the"
        " service uses (health, docs, images, ...) is refused.",
    },
    "title": {"type": "string", "maxLength": validation.MAX_TITLE},
    "description": {"type": "string", "maxLength": validation.MAX_DESCRIPTION},
    "category": {"type": "string", "maxLength": validation.MAX_CATEGORY},
    "visibility": {"type": "string", "enum": ["public", "private"], "default": "public"},
    "is_public": {"type": "boolean", "description": "Older clients' `visibility`: true is public"},
    # No type: older clients send numbers, or numeric strings in a form, and neither is kept.
    "width": {"description": "Accepted and ignored: the stored width is measured from the bytes"},
    "height": {"description": "Accepted and ignored: the stored height is measured from the bytes"},
}
TAG = {"type": "string", "maxLength": validation.MAX_TAG}
TAGS_DESCRIPTION = f"Lower-cased and de-duplicated; at most {validation.MAX_TAGS} tags"

JSON_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["image_data"],
    "properties": {
        "image_data": {
            "type": "string",
            "description": "The image, base64, optionally as a `data:image/...;base64,` URL",
        },
        "image_file": {"type": "string", "description": "Older clients' name for `image_data`"},
        **METADATA,
        "tags": {
            "description": f"{TAGS_DESCRIPTION}: a list, or one comma-separated string",
            "anyOf": [{"type": "array", "items": TAG, "maxItems": validation.MAX_TAGS}, {"type": "string"}],
        },
    },
}
MULTIPART_BODY = {
    "type": "object",
    "additionalProperties": False,
    "description": "One image in `file`, or a batch of up to 20 in `files` (all stored or none).",
    "properties": {
        "file": {"type": "string", "format": "binary"},
        "files": {
            "type": "array",
            "items": {"type": "string", "format": "binary"},
            "maxItems": MAX_BATCH_FILES,
        },
        **METADATA,
        "tags": {"type": "string", "description": f"{TAGS_DESCRIPTION}: comma-separated, or repeated"},
    },
}

UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": JSON_BODY,
                "example": {
                    "image_data": EXAMPLE_PNG,
                    "filename": "dot.png",
                    "title": "A red dot",
                    "tags": ["dot", "red"],
                    "visibility": "public",
                },
            },
            "multipart/form-data": {"schema": MULTIPART_BODY},
        },
    }
}
