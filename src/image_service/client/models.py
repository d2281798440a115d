"""The answers of the API as typed, read-only objects (pydantic models).

Fields the server adds later are ignored rather than refused, so an older client keeps working
with a newer server. Times are ``datetime`` objects in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal, TypedDict

from pydantic import BaseModel, ConfigDict, field_serializer

Visibility = Literal["public", "private"]
Fit = Literal["inside", "cover"]


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Image(_Answer):
    """An image's metadata, as docs/API.md "The image resource" describes each field."""

    image_id: str
    user_id: str
    name: str
    filename: str
    title: str
    description: str
    tags: list[str]
    category: str | None
    visibility: Visibility
    content_type: str
    format: str
    width: int
    height: int
    size: int
    checksum_sha256: str
    s3_key: str
    orientation: int | None
    created_at: datetime
    updated_at: datetime
    access_count: int
    last_accessed_at: datetime | None = None

    @field_serializer("created_at", "updated_at", "last_accessed_at", when_used="json-unless-none")
    def _api_time(self, value: datetime) -> str:
        """As the API writes times: UTC, milliseconds, a Z (so `ls --json` is the API's JSON)."""
        utc = value.astimezone(UTC)
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


class ListedImage(Image):
    """An image in a list answer, which also carries the URL of its 256-pixel thumbnail (signed
    for a private image)."""

    thumbnail_url: str


class Page(_Answer):
    """One page of a list; ``next_cursor`` (None on the last page) asks for the next one."""

    images: list[ListedImage]
    count: int
    has_more: bool
    next_cursor: str | None


class View(_Answer):
    """An image's metadata and a signed URL of its bytes (or of a rendition), which works without
    credentials for ``expires_in`` seconds."""

    image_id: str
    metadata: Image
    url: str
    expires_in: int


class Uploaded(_Answer):
    """A stored image. ``replayed``: the server answered a retry under the same Idempotency-Key
    with its first answer (nothing new was stored). ``direct``: the bytes went through the
    direct-upload flow. ``unindexed_words``: words of the title and description past the
    searchable cap."""

    image: Image
    replayed: bool = False
    direct: bool = False
    unindexed_words: int = 0


class UploadTarget(_Answer):
    """Where a direct upload's bytes go: a signed PUT with ``headers`` (embedded backend) or an
    S3 presigned POST, a form of ``fields`` and then the file (AWS)."""

    url: str
    method: Literal["PUT", "POST"]
    fields: dict[str, str] | None = None
    headers: dict[str, str] | None = None


class DirectUpload(_Answer):
    """A started direct upload: send the bytes to ``upload``, then complete ``image_id``."""

    image_id: str
    upload: UploadTarget
    expires_in: int
    replayed: bool = False


class BulkFailure(_Answer):
    image_id: str
    reason: Literal["not_found", "forbidden"] | str


class BulkDeleted(_Answer):
    deleted: list[str]
    failed: list[BulkFailure]


class Health(_Answer):
    status: str
    service: str
    version: str
    backend: str
    checks: dict[str, str] | None = None


class Download(_Answer):
    """What ``Client.download`` wrote: the bytes' type and length, and the file name the server
    suggests (``Content-Disposition``), if any."""

    content_type: str
    size: int
    filename: str | None


class Metadata(TypedDict, total=False):
    """What a client may say about a new image (every field optional; the server validates)."""

    user_id: str
    name: str
    filename: str
    title: str
    description: str
    tags: list[str]
    category: str
    visibility: Visibility


class Changes(TypedDict, total=False):
    """What an update may change; ``category=None`` clears the category."""

    title: str
    description: str
    tags: list[str]
    category: str | None
    visibility: Visibility
    name: str


class Rendition(TypedDict, total=False):
    """A rendition of the content (docs/API.md "Renditions"): the box ``w`` x ``h`` (sizes from
    the server's IMAGE_SERVICE_RENDITION_SIZES), ``fit``, ``format`` and ``quality``."""

    w: int
    h: int
    fit: Fit
    format: str
    quality: int
