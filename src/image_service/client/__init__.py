"""A typed Python client of image-service, on httpx: ``Client`` and the models it answers with.

    from image_service.client import ApiError, Client

    with Client("http://127.0.0.1:8000", key="isk_...") as client:
        uploaded = client.upload_file("cat.jpg", title="My cat", tags=["cat"], visibility="private")
        page = client.list_images(tag="cat", limit=10)

``image_service.client.folder`` uploads many files (a folder) in parallel, resumably.

The names are imported on first use (PEP 562): the CLI's other commands import ``errors`` alone
and should not pay for httpx at start-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from image_service.client.defaults import DEFAULT_URL, INLINE_LIMIT
from image_service.client.errors import ApiError, ClientError, TransportError

if TYPE_CHECKING:
    from image_service.client.http import Client
    from image_service.client.models import (
        BulkDeleted,
        BulkFailure,
        Changes,
        DirectUpload,
        Download,
        Health,
        Image,
        ListedImage,
        Metadata,
        Page,
        Rendition,
        Uploaded,
        UploadTarget,
        View,
    )

_LAZY = {
    "Client": "image_service.client.http",
    **dict.fromkeys(
        (
            "BulkDeleted", "BulkFailure", "Changes", "DirectUpload", "Download", "Health", "Image",
            "ListedImage", "Metadata", "Page", "Rendition", "Uploaded", "UploadTarget", "View",
        ),
        "image_service.client.models",
    ),
}  # fmt: skip

__all__ = [
    "DEFAULT_URL", "INLINE_LIMIT", "ApiError", "BulkDeleted", "BulkFailure", "Changes", "Client",
    "ClientError", "DirectUpload", "Download", "Health", "Image", "ListedImage", "Metadata", "Page",
    "Rendition", "TransportError", "UploadTarget", "Uploaded", "View",
]  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
