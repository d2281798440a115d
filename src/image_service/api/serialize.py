"""How an Image looks on the wire, and header values that must be safe for any input."""

from __future__ import annotations

from typing import Any

from image_service.domain.models import Image, format_time


def image_json(image: Image) -> dict[str, Any]:
    return {
        "image_id": image.image_id,
        "user_id": image.user_id,
        "name": image.name,
        "filename": image.filename,
        "title": image.title,
        "description": image.description,
        "tags": list(image.tags),
        "category": image.category,
        "visibility": image.visibility.value,
        "content_type": image.content_type,
        "format": image.format,
        "width": image.width,
        "height": image.height,
        "size": image.size,
        "checksum_sha256": image.checksum_sha256,
        "s3_key": image.s3_key,
        "orientation": image.orientation,
        "created_at": format_time(image.created_at),
        "updated_at": format_time(image.updated_at),
        "access_count": image.access_count,
        "last_accessed_at": format_time(image.last_accessed_at) if image.last_accessed_at else None,
    }
