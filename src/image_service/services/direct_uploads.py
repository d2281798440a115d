"""Direct uploads for files too large for a request body: start, send the bytes, complete.

Timeline: (1) ``start`` validates the declared metadata, size and type, records a pending
upload and returns where to send the bytes (presigned S3 POST, or the embedded backend's own
signed PUT); (2) the client sends the bytes straight to storage; (3) ``complete`` decodes the
stored bytes exactly like a normal upload (privacy stripping included), copies them (as
stripped) to the image's own key and only then writes the catalog row. Invalid bytes are
deleted. Pending uploads never completed expire and are swept (blob and record).

Pending bytes live under ``PENDING_PREFIX``, apart from every image, so that storage can expire
forgotten ones on its own: the deploy template's S3 lifecycle rule deletes objects under that
prefix after a day. The prefix starts with ``~``, which no user id may contain, so it can never
be the start of an image's key (``<owner>/<id>``).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from image_service.domain import validation
from image_service.domain.access import may_act_for, owner_for, require_identity
from image_service.domain.errors import (
    Conflict,
    Forbidden,
    ImageServiceError,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from image_service.domain.models import Caller, Image, PendingUpload, UploadTarget
from image_service.imaging import ACCEPTED_FORMATS
from image_service.ports import PendingUploads
from image_service.services.context import Context
from image_service.services.idempotency import Reservation
from image_service.services.uploads import UploadDraft, build_image, image_key, inspect_and_strip

log = logging.getLogger(__name__)
ACCEPTED_TYPES = {content_type for content_type, _ in ACCEPTED_FORMATS.values()}
PENDING_PREFIX = "~pending/"
METADATA = ("filename", "name", "title", "description", "tags", "category", "visibility")


def start_direct_upload(
    ctx: Context,
    caller: Caller,
    draft: UploadDraft,
    *,
    content_type: str,
    size: int,
    reservation: Reservation | None = None,
) -> tuple[PendingUpload, UploadTarget]:
    """``reservation``: the image id of a request with an Idempotency-Key; a pending upload that an
    earlier attempt with that key recorded under it is answered again (with a fresh URL)."""
    owner = owner_for(caller, draft.user_id)
    if content_type.lower() not in ACCEPTED_TYPES:
        raise UnsupportedMediaType(f"content_type must be one of {', '.join(sorted(ACCEPTED_TYPES))}")
    if size < 1:
        raise InvalidInput("size must be a positive number of bytes")
    if size > ctx.limits.max_image_bytes:
        raise PayloadTooLarge(f"image is larger than {ctx.limits.max_image_bytes} bytes")
    metadata = _validated_metadata(draft, ctx.reserved_names)
    sweep_expired(ctx)
    now = ctx.now()
    image_id = reservation.image_ids[0] if reservation else ctx.new_id()
    resumed = reservation is not None and reservation.resumed
    if resumed and (earlier := _pending_of(ctx.pending, image_id, owner)) is not None:
        return earlier, ctx.urls.presign_upload(earlier, now=now)
    pending = PendingUpload(
        image_id=image_id,
        user_id=owner,
        blob_key=f"{PENDING_PREFIX}{owner}/{image_id}",
        content_type=content_type.lower(),
        size=size,
        metadata=metadata,
        created_at=now,
        expires_at=now + timedelta(seconds=ctx.limits.direct_upload_expiry),
    )
    try:
        ctx.pending.add_pending(pending)
    except Conflict:
        # A slow attempt with the same key, whose claim this one took over, got there first.
        if reservation is None or (earlier := _pending_of(ctx.pending, image_id, owner)) is None:
            raise
        pending = earlier
    return pending, ctx.urls.presign_upload(pending, now=now)


def restart_direct_upload(
    ctx: Context, caller: Caller, draft: UploadDraft, *, content_type: str, size: int, image_id: str
) -> tuple[PendingUpload, UploadTarget] | None:
    """A start replayed under its Idempotency-Key: None once its image exists (the first answer
    stands); else the upload starts again under the same image id, with a fresh expiry and URL.
    The key is kept for a day but the upload URL dies with its pending upload
    (``direct_upload_expiry``, an hour), so a re-run after an interruption would otherwise be
    sent a dead URL. The bytes sent so far stay under the same key, for the next send to replace.
    """
    if _already_completed(ctx, image_id):
        return None
    if _pending_of(ctx.pending, image_id, owner_for(caller, draft.user_id)) is not None:
        ctx.pending.remove_pending(image_id)
    return start_direct_upload(
        ctx, caller, draft, content_type=content_type, size=size, reservation=Reservation((image_id,))
    )


def _pending_of(store: PendingUploads, image_id: str, owner: str) -> PendingUpload | None:
    try:
        pending = store.get_pending(image_id)
    except NotFound:
        return None
    return pending if pending.user_id == owner else None


def _validated_metadata(draft: UploadDraft, reserved_names: frozenset[str]) -> dict[str, Any]:
    """Check now what can be checked before the bytes exist, so completion rarely fails."""
    if draft.name:
        validation.name(draft.name, reserved_names)
    validation.title(draft.title or "")
    validation.description(draft.description or "")
    tags = list(validation.tags(draft.tags))
    validation.category(draft.category)
    validation.visibility(draft.visibility)
    values = {key: getattr(draft, key) for key in METADATA}
    values["tags"] = tags
    return values


def receive_upload(ctx: Context, image_id: str, *, expires: int, signature: str, data: bytes) -> None:
    """The embedded backend's stand-in for S3: accept the bytes sent to a signed upload URL."""
    if not ctx.urls.verify_upload(image_id, expires=expires, signature=signature, now=ctx.now()):
        raise Forbidden("the upload URL is invalid or has expired")
    pending = ctx.pending.get_pending(image_id)
    if len(data) > pending.size or len(data) > ctx.limits.max_image_bytes:
        raise PayloadTooLarge(f"the upload is larger than the declared {pending.size} bytes")
    ctx.blobs.put(pending.blob_key, data, pending.content_type)


def complete_direct_upload(ctx: Context, caller: Caller, image_id: str) -> Image:
    require_identity(caller)
    pending = ctx.pending.get_pending(image_id)
    if not may_act_for(caller, pending.user_id):
        raise NotFound("no such pending upload")
    if pending.expires_at < ctx.now():
        _discard(ctx, pending)
        raise NotFound("the upload has expired")
    try:
        data = ctx.blobs.get(pending.blob_key)
    except NotFound:
        raise InvalidInput("no bytes were uploaded for this image yet") from None
    try:
        if len(data) > pending.size:
            # S3 refuses this through the POST policy; emulators and other stores may not.
            raise PayloadTooLarge(f"the upload is larger than the declared {pending.size} bytes")
        info, stored = inspect_and_strip(ctx, data)
        draft = UploadDraft(data=stored, user_id=pending.user_id, **pending.metadata)
        image = build_image(ctx, pending.user_id, draft, info, image_id=pending.image_id)
        ctx.blobs.put(image.blob_key, stored, image.content_type)
        ctx.catalog.add(image)
    except Conflict:
        if _already_completed(ctx, pending.image_id):
            return ctx.catalog.get(pending.image_id)
        _discard(ctx, pending, also=image_key(pending.user_id, pending.image_id))
        raise
    except ImageServiceError:
        # Invalid bytes or a name taken meanwhile: nothing of this upload may stay behind.
        _discard(ctx, pending, also=image_key(pending.user_id, pending.image_id))
        raise
    _discard(ctx, pending)
    return image


def _already_completed(ctx: Context, image_id: str) -> bool:
    """The upload was completed (by a concurrent complete, say): its row (and blob) must stay."""
    try:
        ctx.catalog.get(image_id)
    except NotFound:
        return False
    return True


def sweep_expired(ctx: Context, limit: int = 100) -> int:
    """Delete the bytes and records of pending uploads past their expiry; returns how many were
    removed (one whose bytes could not be deleted stays, for a later sweep)."""
    return sum(_discard(ctx, pending) for pending in ctx.pending.expired_pending(ctx.now(), limit))


def _discard(ctx: Context, pending: PendingUpload, also: str | None = None) -> bool:
    """Delete the pending bytes (and ``also``, the image's copy of a failed completion), then
    the record; if a delete fails the record stays, so a later sweep retries."""
    try:
        for key in (pending.blob_key, also):
            if key is not None:
                ctx.blobs.delete(key)
    except ImageServiceError:
        log.exception("could not delete the bytes of pending upload %s", pending.image_id)
        return False
    ctx.pending.remove_pending(pending.image_id)
    return True
