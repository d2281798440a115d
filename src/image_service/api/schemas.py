"""Request and response bodies as pydantic models: they validate input and document the API."""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.config import JsonDict

from image_service.api.upload_schema import METADATA
from image_service.domain.validation import IMAGE_ID_PATTERN


def documented(field: str) -> Any:
    """``json_schema_extra`` for an optional text field: the bounds the domain checks (documented,
    not enforced here, so the domain's messages and its whitespace stripping stay the answer),
    put on the string branch of ``str | None``, where they do not forbid null."""
    extra = {k: v for k, v in METADATA[field].items() if k != "type"}

    def edit(schema: JsonDict) -> None:
        if "type" not in METADATA[field]:  # any value is documented as taken
            schema.clear()
            schema.update(extra)
            return
        branches = schema.get("anyOf")
        strings = (
            [b for b in branches if isinstance(b, dict) and b.get("type") == "string"]
            if isinstance(branches, list)
            else [schema]
        )
        for branch in strings:
            branch.update({k: v for k, v in extra.items() if k != "description"})
        if "description" in extra:
            schema["description"] = extra["description"]

    return edit


class PatchIn(BaseModel):
    """The metadata that can change after upload."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"title": "My cat", "tags": ["cat", "sunset"], "visibility": "public"}]
        },
    )

    title: str | None = Field(None, json_schema_extra=documented("title"))
    description: str | None = Field(None, json_schema_extra=documented("description"))
    tags: list[str] | str | None = Field(None, description="A list, or one comma-separated string")
    category: str | None = Field(None, json_schema_extra=documented("category"))
    visibility: str | None = Field(None, json_schema_extra=documented("visibility"))
    name: str | None = Field(None, json_schema_extra=documented("name"))
    # Older clients' spelling of visibility: true is "public", false "private".
    is_public: bool | None = Field(None, exclude=True, json_schema_extra=documented("is_public"))

    @model_validator(mode="after")
    def _is_public_is_visibility(self) -> Self:
        if self.is_public is None:
            return self
        visibility = "public" if self.is_public else "private"
        if self.visibility is not None and self.visibility.lower() != visibility:
            raise ValueError("is_public and visibility disagree")
        self.visibility = visibility
        return self


class MetadataIn(PatchIn):
    """What a client may say about a new image, in every upload form."""

    user_id: str | None = Field(None, json_schema_extra=documented("user_id"))
    filename: str | None = Field(None, json_schema_extra=documented("filename"))
    # Sent by older clients; the stored width and height are always measured from the bytes.
    width: int | None = Field(None, exclude=True, json_schema_extra=documented("width"))
    height: int | None = Field(None, exclude=True, json_schema_extra=documented("height"))


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


UNINDEXED = Field(
    None,
    description="Present when the title and description hold more distinct words than the"
    " 100 that are searchable (title words first): how many are stored but not searchable. For"
    " a batch, the total over its images.",
)


class UploadOut(BaseModel):
    message: str
    image_id: str | None = None
    metadata: ImageOut | None = None
    images: list[ImageOut] | None = None
    unindexed_words: int | None = UNINDEXED


class ListedImageOut(ImageOut):
    """An image in a list answer: its metadata and a URL of its thumbnail."""

    thumbnail_url: str = Field(
        description="The 256-pixel rendition (`w=256`, format auto), for an `<img>` as it is: the"
        " content URL for a public image, a signed URL (valid PRESIGNED_URL_EXPIRATION or more) for a"
        " private one"
    )


class ListOut(BaseModel):
    images: list[ListedImageOut]
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
    unindexed_words: int | None = UNINDEXED


class DeleteOut(BaseModel):
    message: str
    image_id: str


class BulkDeleteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image_ids: list[str] = Field(
        min_length=1,
        max_length=100,
        json_schema_extra={"items": {"type": "string", "pattern": f"^{IMAGE_ID_PATTERN.pattern}$"}},
    )
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
