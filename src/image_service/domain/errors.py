"""One error hierarchy for the whole service; each error carries its HTTP status.

    ImageServiceError (500)
    ├── InvalidInput (400)
    ├── Unauthenticated (401)
    ├── Forbidden (403)
    ├── NotFound (404)
    ├── Conflict (409)
    ├── PayloadTooLarge (413)
    ├── UnsupportedMediaType (415)
    └── BackendUnavailable (503)

Adapters translate vendor errors (sqlite3, OSError, botocore) into these with
``raise ... from exc``; the API maps them to ``{"error": message}`` in one handler.
"""

from __future__ import annotations

from typing import Any


class ImageServiceError(Exception):
    status = 500
    public_message = "internal error"

    def __init__(self, message: str | None = None, *, details: list[Any] | None = None) -> None:
        super().__init__(message or self.public_message)
        self.message = message or self.public_message
        self.details = details


class InvalidInput(ImageServiceError):
    status = 400
    public_message = "invalid request"


class Unauthenticated(ImageServiceError):
    status = 401
    public_message = "missing or invalid credentials"


class Forbidden(ImageServiceError):
    status = 403
    public_message = "not allowed"


class NotFound(ImageServiceError):
    status = 404
    public_message = "not found"


class Conflict(ImageServiceError):
    status = 409
    public_message = "conflict"


class PayloadTooLarge(ImageServiceError):
    status = 413
    public_message = "payload too large"


class UnsupportedMediaType(ImageServiceError):
    status = 415
    public_message = "not a supported image"


class BackendUnavailable(ImageServiceError):
    status = 503
    public_message = "a backend is unavailable"
