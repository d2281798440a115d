"""Use cases on one stored image: view (signed URL), content, update, delete, bulk delete.

Visibility rule used throughout: an image the caller may not see is NotFound, never Forbidden,
so private images do not reveal that they exist; Forbidden is for visible images one may not change.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from image_service.domain import validation
from image_service.domain.access import can_change, can_see, check_acting_for, require_identity
from image_service.domain.errors import Forbidden, ImageServiceError, InvalidInput, NotFound
from image_service.domain.models import Caller, Image
from image_service.domain.renditions import rendition_prefix
from image_service.services import rendition_urls
from image_service.services.context import Context
from image_service.services.renditions import RenditionRequest

log = logging.getLogger(__name__)

MAX_BULK = 100
UPDATABLE = ("title", "description", "tags", "category", "visibility", "name")


@dataclass(frozen=True, slots=True)
class SignedUrl:
    image: Image
    url: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class ContentGrant:
    """Proof from a signed URL's query string, checked instead of the caller's identity."""

    expires: int
    download: bool
    signature: str


def visible_image(ctx: Context, caller: Caller, image_id: str) -> Image:
    """The image's metadata as the caller may see it (view, PATCH, delete): with every access
    this process counted, so the counts in the answer are never behind."""
    ctx.settle_accesses()
    image = ctx.catalog.get(image_id)
    if not can_see(caller, image):
        raise NotFound("image not found")
    return image


def changeable_image(ctx: Context, caller: Caller, image_id: str) -> Image:
    require_identity(caller)
    image = visible_image(ctx, caller, image_id)
    if not can_change(caller, image):
        raise Forbidden("only the owner or an admin may change this image")
    return image


def view_image(
    ctx: Context,
    caller: Caller,
    image_id: str,
    *,
    download: bool = False,
    expires_in: int | None = None,
    rendition: RenditionRequest | None = None,
) -> SignedUrl:
    """A signed URL of the bytes, or of a rendition (the service's own URL on every backend)."""
    expires = ctx.limits.default_url_expiry if expires_in is None else expires_in
    if not 1 <= expires <= ctx.limits.max_url_expiry:
        raise InvalidInput(f"expires_in must be between 1 and {ctx.limits.max_url_expiry}")
    image = visible_image(ctx, caller, image_id)
    if rendition is not None:
        url = rendition_urls.signed_url(ctx, image, rendition, expires_in=expires, download=download)
    else:
        url = ctx.urls.presign(image, expires_in=expires, download=download, now=ctx.now())
    return SignedUrl(image, url, expires)


def open_content(
    ctx: Context,
    caller: Caller,
    *,
    image_id: str | None = None,
    name: str | None = None,
    grant: ContentGrant | None = None,
    rendition: RenditionRequest | None = None,
) -> Image:
    """The image whose bytes (or ``rendition``) the caller may read, by id or by unique name."""
    image = ctx.catalog.get(image_id) if image_id is not None else ctx.catalog.get_by_name(str(name))
    if grant is not None:
        expires, download, signature = grant.expires, grant.download, grant.signature
        if rendition is None:
            valid = ctx.urls.verify(
                image.image_id, expires=expires, download=download, signature=signature, now=ctx.now()
            )
        else:
            valid = rendition_urls.verify(
                ctx, image.image_id, rendition, expires=expires, download=download, signature=signature
            )
        if not valid:
            raise Forbidden("the signed URL is invalid or has expired")
        return image
    if not can_see(caller, image):
        raise NotFound("image not found")
    return image


def read_content(ctx: Context, image: Image, start: int | None = None, end: int | None = None) -> bytes:
    """The bytes (or an inclusive range), counting one access once they were read."""
    data = ctx.blobs.get(image.blob_key, start, end)
    count_access(ctx, image)
    return data


def count_access(ctx: Context, image: Image) -> None:
    """One access of the image: a GET of its bytes or of a rendition, or a redirect to either.
    In a server process it joins the next batch (services.access_counts); elsewhere (Lambda,
    which may not work after its answer) it is written at once."""
    if ctx.access_counts is not None:
        ctx.access_counts.add(image.image_id, ctx.now())
    else:
        ctx.catalog.record_access(image.image_id, ctx.now())


REDIRECT_EXPIRY = 300  # a redirect is followed at once; a short-lived URL is enough


def redirect_url(ctx: Context, image: Image, *, download: bool) -> str:
    """A presigned URL to hand out instead of the bytes (too big to answer inline); it counts as
    one access, like serving them."""
    url = ctx.urls.presign(
        image, expires_in=min(REDIRECT_EXPIRY, ctx.limits.max_url_expiry), download=download, now=ctx.now()
    )
    count_access(ctx, image)
    return url


def update_image(ctx: Context, caller: Caller, image_id: str, changes: dict[str, Any]) -> Image:
    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise InvalidInput(f"these fields cannot be changed: {', '.join(sorted(unknown))}")
    image = changeable_image(ctx, caller, image_id)
    rules: dict[str, Callable[[Any], Any]] = {
        "title": validation.title,
        "description": validation.description,
        "tags": validation.tags,
        "category": validation.category,
        "visibility": validation.visibility,
        "name": functools.partial(validation.name, reserved=ctx.reserved_names),
    }
    values: dict[str, Any] = {}
    for field, value in changes.items():
        if value is None and field not in ("category",):
            raise InvalidInput(f"{field} may not be null")
        values[field] = rules[field](value)
    # The clock has milliseconds: an edit in the same millisecond as the upload (or the last edit)
    # still moves updated_at on, so "changed since" comparisons never miss it.
    updated_at = max(ctx.now(), image.updated_at + timedelta(milliseconds=1))
    updated = dataclasses.replace(image, **values, updated_at=updated_at)
    ctx.catalog.update(updated)
    return updated


def delete_image(ctx: Context, caller: Caller, image_id: str) -> Image:
    return _remove(ctx, changeable_image(ctx, caller, image_id))


def _remove(ctx: Context, image: Image) -> Image:
    """Metadata first, then bytes (the original, then its renditions): a failure in between
    leaves orphan objects (invisible to every reader, found by fsck), never metadata that points
    at nothing. Each removal is tried even if the one before it failed."""
    removed = ctx.catalog.remove(image.image_id)
    try:
        ctx.blobs.delete(removed.blob_key)
    except ImageServiceError:
        log.exception("image %s deleted but its object %s was not", image.image_id, removed.blob_key)
    prefix = rendition_prefix(removed.image_id)
    try:
        ctx.blobs.delete_prefix(prefix)
    except ImageServiceError:
        log.exception("image %s deleted but its renditions %s were not", image.image_id, prefix)
    return removed


@dataclass(frozen=True, slots=True)
class BulkResult:
    deleted: list[str]
    failed: list[dict[str, str]]


def delete_images(
    ctx: Context, caller: Caller, image_ids: list[str], user_id: str | None = None
) -> BulkResult:
    if not 1 <= len(image_ids) <= MAX_BULK:
        raise InvalidInput(f"image_ids must hold 1 to {MAX_BULK} ids")
    require_identity(caller)
    for image_id in image_ids:
        validation.image_id(image_id)
    check_acting_for(caller, user_id)
    deleted: list[str] = []
    failed: list[dict[str, str]] = []
    for image_id in dict.fromkeys(image_ids):
        try:
            image = visible_image(ctx, caller, image_id)
            if not can_change(caller, image) or (user_id is not None and image.user_id != user_id):
                failed.append({"image_id": image_id, "reason": "forbidden"})
                continue
            _remove(ctx, image)
            deleted.append(image_id)
        except NotFound:
            failed.append({"image_id": image_id, "reason": "not_found"})
    return BulkResult(deleted, failed)
