"""Upload: validate everything first, then store bytes, then metadata, undoing on any failure.

Timeline of one image: (1) decode and check the bytes, (2) put the blob, (3) add the catalog
row. If (3) fails the blob from (2) is deleted, so no object is left without metadata; metadata
never exists without its object because it is written last. A batch validates every file before
storing any, and removes the images it already stored if a later one fails.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from image_service.domain import validation
from image_service.domain.errors import Conflict, Forbidden, ImageServiceError, InvalidInput, Unauthenticated
from image_service.domain.models import Caller, Image
from image_service.imaging import ImageInfo, inspect_image
from image_service.services.context import Context

log = logging.getLogger(__name__)
MAX_BATCH_FILES = 20


@dataclass(frozen=True, slots=True)
class UploadDraft:
    """One file as the client sent it, before any validation."""

    data: bytes
    user_id: str | None = None
    filename: str | None = None
    name: str | None = None
    title: str | None = None
    description: str | None = None
    tags: Any = None
    category: str | None = None
    visibility: str | None = None


def owner_for(caller: Caller, requested: str | None) -> str:
    """The user an upload belongs to: the caller's own, or another only for admins/trusted."""
    if caller.is_anonymous and not caller.trusted:
        raise Unauthenticated("an API key is required to upload")
    if requested is None:
        if caller.user_id is None:
            raise InvalidInput("user_id is required")
        return caller.user_id
    validation.user_id(requested)
    if requested != caller.user_id and not (caller.is_admin or caller.trusted):
        raise Forbidden("user_id does not match your API key")
    return requested


def upload_images(ctx: Context, caller: Caller, drafts: list[UploadDraft]) -> list[Image]:
    if not drafts:
        raise InvalidInput("no image given")
    if len(drafts) > MAX_BATCH_FILES:
        raise InvalidInput(f"at most {MAX_BATCH_FILES} files per upload")
    prepared = [_prepare(ctx, caller, draft, position, len(drafts)) for position, draft in enumerate(drafts)]
    names = [image.name for image, _ in prepared]
    if len(set(names)) != len(names):
        raise Conflict("two files in the batch have the same name")
    stored: list[Image] = []
    try:
        for image, data in prepared:
            _store(ctx, image, data)
            stored.append(image)
    except BaseException:
        for image in reversed(stored):
            _undo(ctx, image)
        raise
    return stored


def _prepare(
    ctx: Context, caller: Caller, draft: UploadDraft, position: int, total: int
) -> tuple[Image, bytes]:
    try:
        owner = owner_for(caller, draft.user_id)
        info = inspect_image(
            draft.data, max_bytes=ctx.limits.max_image_bytes, max_pixels=ctx.limits.max_image_pixels
        )
        return build_image(ctx, owner, draft, info), draft.data
    except ImageServiceError as exc:
        if total > 1:
            label = draft.filename or f"file #{position + 1}"
            exc.message = f"{label}: {exc.message}"
            exc.args = (exc.message,)
        raise


def image_key(owner: str, image_id: str) -> str:
    """Where an image's bytes are stored: ``<owner>/<id>``."""
    return f"{owner}/{image_id}"


def build_image(
    ctx: Context, owner: str, draft: UploadDraft, info: ImageInfo, image_id: str | None = None
) -> Image:
    image_id = image_id or ctx.new_id()
    now = ctx.now()
    default_name = f"{image_id}.{info.extension}"
    return Image(
        image_id=image_id,
        user_id=owner,
        name=validation.name(draft.name) if draft.name else default_name,
        filename=validation.filename(draft.filename, default_name),
        title=validation.title(draft.title or ""),
        description=validation.description(draft.description or ""),
        tags=validation.tags(draft.tags),
        category=validation.category(draft.category),
        visibility=validation.visibility(draft.visibility),
        content_type=info.content_type,
        format=info.format,
        width=info.width,
        height=info.height,
        size=len(draft.data),
        checksum_sha256=hashlib.sha256(draft.data).hexdigest(),
        s3_key=image_key(owner, image_id),
        orientation=info.orientation,
        created_at=now,
        updated_at=now,
    )


def _store(ctx: Context, image: Image, data: bytes) -> None:
    ctx.blobs.put(image.s3_key, data, image.content_type)
    try:
        ctx.catalog.add(image)
    except BaseException:
        _delete_blob(ctx, image.s3_key)
        raise


def _undo(ctx: Context, image: Image) -> None:
    try:
        ctx.catalog.remove(image.image_id)
    except ImageServiceError:
        log.exception("could not roll back catalog row of %s", image.image_id)
        return  # keep the blob: metadata that is still there must keep its bytes
    _delete_blob(ctx, image.s3_key)


def _delete_blob(ctx: Context, key: str) -> None:
    try:
        ctx.blobs.delete(key)
    except ImageServiceError:
        # An orphan object is harmless to readers and is found by fsck; never mask the cause.
        log.exception("could not delete blob %s while undoing an upload", key)
