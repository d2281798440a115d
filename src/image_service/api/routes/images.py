"""The /images resource: upload, list, view (signed URL), update, delete, bulk delete."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from image_service.api.deps import CallerDep, ContextDep, IdempotencyKeyHeader, ImageIdPath, KnownQueryOnly
from image_service.api.idempotency import answer_once
from image_service.api.openapi import BACKEND_ERRORS, error_responses
from image_service.api.renditions import parse_request, wants_rendition
from image_service.api.responses import JsonResponse
from image_service.api.routes.content import RENDITION_QUERY
from image_service.api.routes.docs import prefix
from image_service.api.schemas import (
    BulkDeleteIn,
    BulkDeleteOut,
    DeleteOut,
    ListOut,
    PatchIn,
    UpdateOut,
    UploadOut,
    ViewOut,
)
from image_service.api.serialize import image_json, search_note
from image_service.api.upload_parsing import drafts_from_request
from image_service.api.upload_schema import UPLOAD_BODY
from image_service.domain import validation
from image_service.domain.access import require_identity
from image_service.domain.errors import InvalidInput
from image_service.domain.models import Image
from image_service.services import images as image_service
from image_service.services.idempotency import Answer, Reservation, check_key, keyed_upload
from image_service.services.listing import list_images, make_filters
from image_service.services.rendition_urls import thumbnail_url
from image_service.services.uploads import upload_images

router = APIRouter(tags=["images"], responses=error_responses(*BACKEND_ERRORS, 401))


@router.post(
    "/images",
    status_code=201,
    response_model=UploadOut,
    # One image answers {message, image_id, metadata}, a batch {message, images}: leave out the
    # other shape's keys rather than sending them as null.
    response_model_exclude_unset=True,
    openapi_extra=UPLOAD_BODY,
    operation_id="uploadImages",
    summary="Upload one image or a batch",
    responses=error_responses(403, 409, 413, 415),
)
async def upload(
    request: Request, ctx: ContextDep, caller: CallerDep, idempotency_key: IdempotencyKeyHeader = None
) -> JsonResponse:
    """Upload one image (JSON base64 or multipart `file`) or several (multipart `files`). The bytes
    must decode as an image; width, height, format and content type come from decoding. A batch
    is all-or-nothing. Needs an API key (or IMAGE_SERVICE_AUTH=none)."""
    # 401 before reading, let alone decoding, a body of up to MAX_IMAGE_SIZE from an unknown caller.
    require_identity(caller)
    if idempotency_key is not None:
        check_key(idempotency_key)
    drafts, batch = await drafts_from_request(request, ctx.limits.max_image_bytes)

    def work(reservation: Reservation | None) -> Answer:
        return Answer(201, _uploaded(upload_images(ctx, caller, drafts, reservation), batch))

    # Hashing the files for the fingerprint is CPU work: off the event loop too.
    keyed = await run_in_threadpool(keyed_upload, caller, idempotency_key, "upload", drafts, batch=batch)
    return await answer_once(ctx, keyed, work)


def _uploaded(stored: list[Image], batch: bool) -> dict[str, Any]:
    if not batch:
        return {
            "message": "Image uploaded successfully",
            "image_id": stored[0].image_id,
            "metadata": image_json(stored[0]),
            **search_note(stored),
        }
    return {
        "message": f"{len(stored)} images uploaded successfully",
        "images": [image_json(i) for i in stored],
        **search_note(stored),
    }


def _time(name: str, value: str | None) -> datetime | None:
    return None if value is None else validation.time(name, value)


@router.get(
    "/images",
    response_model=ListOut,
    dependencies=[KnownQueryOnly],
    operation_id="listImages",
    summary="List images",
)
def list_route(
    request: Request,
    ctx: ContextDep,
    caller: CallerDep,
    user_id: Annotated[str | None, Query(description="Only this owner's images")] = None,
    tag: Annotated[list[str] | None, Query(description="Repeatable: every tag must match")] = None,
    tags: Annotated[str | None, Query(description="`tag` as one comma-separated string")] = None,
    category: str | None = None,
    visibility: Annotated[str | None, Query(description="`public` or `private`")] = None,
    is_public: Annotated[bool | None, Query(description="Older clients' `visibility` filter")] = None,
    created_after: Annotated[str | None, Query(description="ISO 8601, e.g. 2026-01-01T00:00:00Z")] = None,
    created_before: Annotated[str | None, Query(description="ISO 8601")] = None,
    q: Annotated[
        str | None,
        Query(description="1-8 words, each in the title or description; the last also as a prefix"),
    ] = None,
    title: Annotated[str | None, Query(description="Text search in the title only")] = None,
    description: Annotated[str | None, Query(description="Text search in the description only")] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Images per page")] = 20,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
    last_evaluated_key: Annotated[str | None, Query(description="Alias of `cursor`")] = None,
    last_key: Annotated[str | None, Query(description="Alias of `cursor`")] = None,
) -> dict[str, Any]:
    """Newest first (`created_at`, then `image_id`), every filter combinable; walk the pages with
    `next_cursor`. Anonymous callers see public images, a user also their own private ones, an
    admin everything. A query parameter the list does not know is 400 naming it."""
    if is_public is not None:
        implied = "public" if is_public else "private"
        if visibility is not None and visibility.lower() != implied:
            raise InvalidInput("is_public and visibility disagree")
        visibility = implied
    filters = make_filters(
        user_id=user_id,
        tags=[*(tag or []), *(tags.split(",") if tags else [])],
        category=category,
        visibility=visibility,
        created_after=_time("created_after", created_after),
        created_before=_time("created_before", created_before),
        q=q,
        title=title,
        description=description,
    )
    result = list_images(ctx, caller, filters, limit=limit, cursor=cursor or last_evaluated_key or last_key)
    return {
        "images": [
            {**image_json(i), "thumbnail_url": absolute(request, thumbnail_url(ctx, i))}
            for i in result.page.images
        ],
        "count": len(result.page.images),
        "has_more": result.next_cursor is not None,
        "next_cursor": result.next_cursor,
        "last_evaluated_key": result.next_cursor,
    }


@router.get(
    "/images/{image_id}",
    response_model=ViewOut,
    operation_id="getImage",
    summary="An image's metadata and a signed URL of its bytes, or of a rendition",
    responses=error_responses(404),
    openapi_extra=RENDITION_QUERY,
)
def view(
    request: Request,
    image_id: ImageIdPath,
    ctx: ContextDep,
    caller: CallerDep,
    download: Annotated[bool, Query(description="The URL answers as an attachment")] = False,
    expires_in: Annotated[
        int | None, Query(ge=1, le=604800, description="Seconds; default PRESIGNED_URL_EXPIRATION")
    ] = None,
) -> dict[str, Any]:
    """Metadata plus a signed URL that fetches the bytes without credentials until it expires.
    With `w`, `h`, `fit`, `format` or `quality`, the URL is of that rendition (on every backend the
    service's own content route, which makes the rendition on first use)."""
    params = request.query_params
    wanted = parse_request(params, ctx.limits.rendition_sizes) if wants_rendition(params) else None
    signed = image_service.view_image(
        ctx, caller, image_id, download=download, expires_in=expires_in, rendition=wanted
    )
    url = absolute(request, signed.url)
    return {
        "image_id": signed.image.image_id,
        "metadata": image_json(signed.image),
        "presigned_url": url,
        "url": url,
        "expires_in": signed.expires_in,
    }


def absolute(request: Request, url: str) -> str:
    """A URL of the service as clients reach it: a path gets this request's scheme, host and the
    prefix a proxy strips (docs.prefix); storage's absolute URLs stay as they are."""
    if "://" in url:
        return url
    return f"{request.url.scheme}://{request.url.netloc}{prefix(request)}{url}"


@router.patch(
    "/images/{image_id}",
    response_model=UpdateOut,
    response_model_exclude_unset=True,
    operation_id="updateImage",
    summary="Change an image's metadata (owner or admin)",
    responses=error_responses(403, 404, 409),
)
def update(image_id: ImageIdPath, body: PatchIn, ctx: ContextDep, caller: CallerDep) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        raise InvalidInput("nothing to update")
    image = image_service.update_image(ctx, caller, image_id, changes)
    return {
        "message": "Image updated successfully",
        "image_id": image.image_id,
        "metadata": image_json(image),
        **search_note([image]),
    }


@router.delete(
    "/images/{image_id}",
    response_model=DeleteOut,
    operation_id="deleteImage",
    summary="Delete an image, its bytes and renditions (owner or admin)",
    responses=error_responses(403, 404),
)
def delete(image_id: ImageIdPath, ctx: ContextDep, caller: CallerDep) -> dict[str, Any]:
    image_service.delete_image(ctx, caller, image_id)
    return {"message": "Image deleted successfully", "image_id": image_id}


@router.delete(
    "/images",
    response_model=BulkDeleteOut,
    operation_id="deleteImages",
    summary="Delete up to 100 images",
    responses=error_responses(403),
)
def bulk_delete(body: BulkDeleteIn, ctx: ContextDep, caller: CallerDep) -> dict[str, Any]:
    result = image_service.delete_images(ctx, caller, body.image_ids, body.user_id)
    return {"deleted": result.deleted, "failed": result.failed}
