"""The server's answers as the client tests need them."""

from __future__ import annotations

from typing import Any


def image_json(image_id: str = "img-1", **fields: Any) -> dict[str, Any]:
    return {
        "image_id": image_id, "user_id": "alice", "name": f"{image_id}.png", "filename": "a.png",
        "title": "", "description": "", "tags": [], "category": None, "visibility": "public",
        "content_type": "image/png", "format": "PNG", "width": 8, "height": 8, "size": 80,
        "checksum_sha256": "0" * 64, "s3_key": f"alice/{image_id}", "orientation": None,
        "created_at": "2026-01-01T12:00:00.123Z", "updated_at": "2026-01-01T12:00:00.123Z",
        "access_count": 0, "last_accessed_at": None, **fields,
    }  # fmt: skip
