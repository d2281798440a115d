"""Upload: validate everything first, then store bytes, then metadata, undoing on any failure.

Timeline of one image: (1) decode and check the bytes and take out what the privacy setting
removes (``imaging.metadata``: by default the location, without re-encoding; size, checksum and
ETag then describe the stored bytes), (2) put the blob, (3) add the catalog row. If (3) fails
the blob from (2) is deleted, so no object is left without metadata; metadata never exists
without its object because it is written last. A batch validates every file before
storing any, and removes the images it already stored if a later one fails.

A request with an Idempotency-Key stores under image ids reserved beforehand
(``services.idempotency``). An image that already exists under a reserved id, with the same
owner and bytes, was stored by an earlier attempt with that key: it is answered as it is.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from image_service.domain import validation
from image_service.domain.access import owner_for
from image_service.domain.errors import Conflict, ImageServiceError, InvalidInput, NotFound
from image_service.domain.models import Caller, Image
from image_service.imaging import ImageInfo, inspect_image, process_budget
from image_service.imaging.metadata import strip
from image_service.services.context import Context

if TYPE_CHECKING:
    from image_service.services.idempotency import Reservation

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


def upload_images(
    ctx: Context, caller: Caller, drafts: list[UploadDraft], reservation: Reservation | None = None
) -> list[Image]:
    if not drafts:
        raise InvalidInput("no image given")
    if len(drafts) > MAX_BATCH_FILES:
        raise InvalidInput(f"at most {MAX_BATCH_FILES} files per upload")
    ids = reservation.image_ids if reservation else (None,) * len(drafts)
    prepared = [
        _prepare(ctx, caller, draft, position, len(drafts), image_id)
        for position, (draft, image_id) in enumerate(zip(drafts, ids, strict=True))
    ]
    names = [image.name for image, _ in prepared]
    if len(set(names)) != len(names):
        raise Conflict("two files in the batch have the same name")
    stored: list[Image] = []
    try:
        for image, data in prepared:
            if reservation is None:
                _store(ctx, image, data)
                stored.append(image)
            else:
                stored.append(_store_reserved(ctx, image, data, resumed=reservation.resumed))
    except BaseException:
        for image in reversed(stored):
            _undo(ctx, image)
        raise
    return stored


def _prepare(
    ctx: Context, caller: Caller, draft: UploadDraft, position: int, total: int, image_id: str | None
) -> tuple[Image, bytes]:
    try:
        owner = owner_for(caller, draft.user_id)
        info, stored = inspect_and_strip(ctx, draft.data)
        return build_image(ctx, owner, dataclasses.replace(draft, data=stored), info, image_id), stored
    except ImageServiceError as exc:
        if total > 1:
            label = draft.filename or f"file #{position + 1}"
            exc.message = f"{label}: {exc.message}"
            exc.args = (exc.message,)
        raise


def inspect_and_strip(ctx: Context, data: bytes) -> tuple[ImageInfo, bytes]:
    """Validate uploaded bytes (under the process's pixel budget) and give the bytes to store."""
    limits = ctx.limits
    info = inspect_image(
        data,
        max_bytes=limits.max_image_bytes,
        max_pixels=limits.max_image_pixels,
        max_frames=limits.max_image_frames,
        budget=process_budget(limits.pixel_budget),
    )
    return info, strip(data, info.format, limits.strip_metadata)


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
        name=validation.name(draft.name, ctx.reserved_names) if draft.name else default_name,
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
        blob_key=image_key(owner, image_id),
        orientation=info.orientation,
        created_at=now,
        updated_at=now,
    )


def _store(ctx: Context, image: Image, data: bytes) -> None:
    ctx.blobs.put(image.blob_key, data, image.content_type)
    try:
        ctx.catalog.add(image)
    except BaseException:
        _delete_blob(ctx, image.blob_key)
        raise


def _store_reserved(ctx: Context, image: Image, data: bytes, *, resumed: bool) -> Image:
    """``_store`` under a reserved id, which an earlier attempt with the same key may have
    stored already (``resumed``), or may be storing right now (a slow attempt whose claim
    was taken over): either way that image is the answer, and its bytes must stay."""
    if resumed and (landed := _landed(ctx, image)) is not None:
        return landed
    ctx.blobs.put(image.blob_key, data, image.content_type)
    try:
        ctx.catalog.add(image)
    except Conflict:
        if (landed := _landed(ctx, image)) is not None:
            return landed  # the other attempt won; its row points at these very bytes
        _delete_blob(ctx, image.blob_key)
        raise
    except BaseException:
        _delete_blob(ctx, image.blob_key)
        raise
    return image


def _landed(ctx: Context, image: Image) -> Image | None:
    """The image already stored under ``image``'s id, if it is this one (owner and bytes)."""
    try:
        found = ctx.catalog.get(image.image_id)
    except NotFound:
        return None
    if (found.user_id, found.checksum_sha256) != (image.user_id, image.checksum_sha256):
        raise Conflict("image id already exists")
    return found


def _undo(ctx: Context, image: Image) -> None:
    try:
        ctx.catalog.remove(image.image_id)
    except ImageServiceError:
        log.exception("could not roll back catalog row of %s", image.image_id)
        return  # keep the blob: metadata that is still there must keep its bytes
    _delete_blob(ctx, image.blob_key)


def _delete_blob(ctx: Context, key: str) -> None:
    try:
        ctx.blobs.delete(key)
    except ImageServiceError:
        # An orphan object is harmless to readers and is found by fsck; never mask the cause.
        log.exception("could not delete blob %s while undoing an upload", key)
