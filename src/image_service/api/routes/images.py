"""The /images resource: upload, list, view (signed URL), update, delete, bulk delete."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from image_service.api.deps import CallerDep, ContextDep
from image_service.api.schemas import (
    BulkDeleteIn,
    BulkDeleteOut,
    DeleteOut,
    ErrorOut,
    ListOut,
    PatchIn,
    UpdateOut,
    UploadOut,
    ViewOut,
)
from image_service.api.serialize import image_json
from image_service.api.upload_parsing import drafts_from_request
from image_service.domain.errors import InvalidInput
from image_service.domain.models import parse_time
from image_service.services import images as image_service
from image_service.services.listing import list_images, make_filters
from image_service.services.uploads import upload_images

router = APIRouter(tags=["images"], responses={400: {"model": ErrorOut}, 401: {"model": ErrorOut}})

UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["image_data"],
                    "properties": {
                        "user_id": {"type": "string"},
                        "image_data": {"type": "string", "description": "base64 or data: URL"},
                        "filename": {"type": "string"},
                        "name": {"type": "string"},
                        "title": {"type": "string"},
                        "description": {"type": "string"},
                        "tags": {
                            "oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}]
                        },
                        "category": {"type": "string"},
                        "visibility": {"type": "string", "enum": ["public", "private"]},
                    },
                }
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                        "user_id": {"type": "string"},
                        "name": {"type": "string"},
                        "title": {"type": "string"},
                        "tags": {"type": "string"},
                        "visibility": {"type": "string"},
                    },
                }
            },
        },
    }
}


@router.post(
    "/images",
    status_code=201,
    response_model=UploadOut,
    # One image answers {message, image_id, metadata}, a batch {message, images}: leave out the
    # other shape's keys rather than sending them as null.
    response_model_exclude_unset=True,
    openapi_extra=UPLOAD_BODY,
    responses={409: {"model": ErrorOut}, 413: {"model": ErrorOut}, 415: {"model": ErrorOut}},
)
async def upload(request: Request, ctx: ContextDep, caller: CallerDep) -> dict[str, Any]:
    """Upload one image (JSON base64 or multipart `file`) or several (multipart `files`)."""
    # 401 before reading, let alone decoding, a body of up to MAX_IMAGE_SIZE from an unknown caller.
    image_service.require_identity(caller)
    drafts, batch = await drafts_from_request(request, ctx.limits.max_image_bytes)
    stored = await run_in_threadpool(upload_images, ctx, caller, drafts)
    if not batch:
        return {
            "message": "Image uploaded successfully",
            "image_id": stored[0].image_id,
            "metadata": image_json(stored[0]),
        }
    return {
        "message": f"{len(stored)} images uploaded successfully",
        "images": [image_json(i) for i in stored],
    }


def _time(name: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_time(value)
    except (ValueError, OverflowError):  # Overflow: e.g. year 1 at +01:00 is before UTC's year 1
        raise InvalidInput(f"{name} must be an ISO 8601 time") from None


@router.get("/images", response_model=ListOut)
def list_route(
    ctx: ContextDep,
    caller: CallerDep,
    user_id: str | None = None,
    tag: Annotated[list[str] | None, Query()] = None,
    tags: str | None = None,
    category: str | None = None,
    visibility: str | None = None,
    created_after: str | None = None,
    created_before: str | None = None,
    q: str | None = None,
    limit: int = 20,
    cursor: str | None = None,
    last_evaluated_key: str | None = None,
    last_key: str | None = None,
) -> dict[str, Any]:
    """Newest first, with every filter combinable; walk pages with `next_cursor`."""
    if q is not None:
        raise InvalidInput("text search (q) is not supported yet")
    filters = make_filters(
        user_id=user_id,
        tags=[*(tag or []), *(tags.split(",") if tags else [])],
        category=category,
        visibility=visibility,
        created_after=_time("created_after", created_after),
        created_before=_time("created_before", created_before),
    )
    result = list_images(ctx, caller, filters, limit=limit, cursor=cursor or last_evaluated_key or last_key)
    return {
        "images": [image_json(i) for i in result.page.images],
        "count": len(result.page.images),
        "has_more": result.next_cursor is not None,
        "next_cursor": result.next_cursor,
        "last_evaluated_key": result.next_cursor,
    }


@router.get("/images/{image_id}", response_model=ViewOut, responses={404: {"model": ErrorOut}})
def view(
    request: Request,
    image_id: str,
    ctx: ContextDep,
    caller: CallerDep,
    download: bool = False,
    expires_in: int | None = None,
) -> dict[str, Any]:
    """Metadata plus a signed URL that fetches the bytes without credentials until it expires."""
    signed = image_service.view_image(ctx, caller, image_id, download=download, expires_in=expires_in)
    url = signed.url if "://" in signed.url else str(request.base_url).rstrip("/") + signed.url
    return {
        "image_id": signed.image.image_id,
        "metadata": image_json(signed.image),
        "presigned_url": url,
        "url": url,
        "expires_in": signed.expires_in,
    }


@router.patch(
    "/images/{image_id}",
    response_model=UpdateOut,
    responses={403: {"model": ErrorOut}, 404: {"model": ErrorOut}, 409: {"model": ErrorOut}},
)
def update(image_id: str, body: PatchIn, ctx: ContextDep, caller: CallerDep) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        raise InvalidInput("nothing to update")
    image = image_service.update_image(ctx, caller, image_id, changes)
    return {
        "message": "Image updated successfully",
        "image_id": image.image_id,
        "metadata": image_json(image),
    }


@router.delete(
    "/images/{image_id}",
    response_model=DeleteOut,
    responses={403: {"model": ErrorOut}, 404: {"model": ErrorOut}},
)
def delete(image_id: str, ctx: ContextDep, caller: CallerDep) -> dict[str, Any]:
    image_service.delete_image(ctx, caller, image_id)
    return {"message": "Image deleted successfully", "image_id": image_id}


@router.delete("/images", response_model=BulkDeleteOut)
def bulk_delete(body: BulkDeleteIn, ctx: ContextDep, caller: CallerDep) -> dict[str, Any]:
    result = image_service.delete_images(ctx, caller, body.image_ids, body.user_id)
    return {"deleted": result.deleted, "failed": result.failed}
