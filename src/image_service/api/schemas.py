"""Request and response bodies as pydantic models: they validate input and document the API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PatchIn(BaseModel):
    """The metadata that can change after upload."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = None
    description: str | None = None
    tags: list[str] | str | None = None
    category: str | None = None
    visibility: str | None = None
    name: str | None = None


class MetadataIn(PatchIn):
    """What a client may say about a new image, in every upload form."""

    user_id: str | None = None
    filename: str | None = None


class ImageOut(BaseModel):
    image_id: str
    user_id: str
    name: str
    filename: str
    title: str
    description: str
    tags: list[str]
    category: str | None
    visibility: str
    content_type: str
    format: str
    width: int
    height: int
    size: int
    checksum_sha256: str
    s3_key: str
    orientation: int | None
    created_at: str
    updated_at: str
    access_count: int
    last_accessed_at: str | None


class UploadOut(BaseModel):
    message: str
    image_id: str | None = None
    metadata: ImageOut | None = None
    images: list[ImageOut] | None = None


class ListOut(BaseModel):
    images: list[ImageOut]
    count: int
    has_more: bool
    next_cursor: str | None
    last_evaluated_key: str | None


class ViewOut(BaseModel):
    image_id: str
    metadata: ImageOut
    presigned_url: str
    url: str
    expires_in: int


class UpdateOut(BaseModel):
    message: str
    image_id: str
    metadata: ImageOut


class DeleteOut(BaseModel):
    message: str
    image_id: str


class BulkDeleteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image_ids: list[str] = Field(min_length=1, max_length=100)
    user_id: str | None = None


class BulkFailure(BaseModel):
    image_id: str
    reason: str


class BulkDeleteOut(BaseModel):
    deleted: list[str]
    failed: list[BulkFailure]


class HealthOut(BaseModel):
    status: str
    service: str
    version: str
    backend: str
    checks: dict[str, str] | None = None


class ErrorOut(BaseModel):
    error: str
