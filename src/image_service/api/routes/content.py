"""Image bytes: by id, by unique name (`/cat42.jpg`) or through a signed URL, with HTTP caching
(ETag, If-None-Match -> 304), single byte ranges (206) and one counted access per GET."""

from __future__ import annotations

import re
from email.utils import format_datetime
from typing import Any

from fastapi import APIRouter, Request, Response

from image_service.api.deps import CallerDep, ContextDep, run_io
from image_service.api.errors import error_response
from image_service.api.schemas import ErrorOut
from image_service.domain.disposition import content_disposition
from image_service.domain.errors import InvalidInput, NotFound
from image_service.domain.models import Caller, Image, Visibility
from image_service.domain.validation import NAME_PATTERN
from image_service.services.context import Context
from image_service.services.images import ContentGrant, open_content, read_content, redirect_url

router = APIRouter(tags=["content"])
RANGE = re.compile(r"bytes=(\d*)-(\d*)")
BINARY: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/*": {}}, "description": "the image bytes"},
    404: {"model": ErrorOut},
}


class Unsatisfiable(Exception):
    """The Range header asks for bytes the image does not have (answered 416)."""


# The hot path. All storage work of a GET (catalog read, file read, access-count write) happens in
# one sync function, run by `run_io`: on the event loop when the backend answers from local disk
# in microseconds (a thread hop and GIL hand-over cost more than the work), in the threadpool when
# it goes over the network. See docs/PERFORMANCE.md.
@router.get("/images/{image_id}/content", responses=BINARY)
async def content_by_id(
    request: Request,
    image_id: str,
    ctx: ContextDep,
    caller: CallerDep,
    download: bool = False,
    expires: int | None = None,
    signature: str | None = None,
) -> Response:
    """The bytes. With `expires` and `signature` (a signed URL) no credentials are needed."""
    grant = None
    if signature is not None or expires is not None:
        if signature is None or expires is None:
            raise InvalidInput("a signed URL needs both expires and signature")
        grant = ContentGrant(expires=expires, download=download, signature=signature)
    return await run_io(ctx, _content_by_id, request, ctx, caller, image_id, grant, download)


def _content_by_id(
    request: Request, ctx: Context, caller: Caller, image_id: str, grant: ContentGrant | None, download: bool
) -> Response:
    image = open_content(ctx, caller, image_id=image_id, grant=grant)
    cache = (
        "private, max-age=300" if grant or image.visibility is Visibility.PRIVATE else "public, max-age=3600"
    )
    return serve(request, ctx, image, download=download, cache_control=cache)


# HEAD as a route of its own: one route with both methods gives both operations one operationId.
router.add_api_route("/images/{image_id}/content", content_by_id, methods=["HEAD"], responses=BINARY)


async def content_by_name(
    request: Request, name: str, ctx: ContextDep, caller: CallerDep, download: bool = False
) -> Response:
    """Serve by unique name, as in `/cat42.jpg`; registered last so it never shadows a route."""
    if not NAME_PATTERN.fullmatch(name):
        raise NotFound("not found")
    return await run_io(ctx, _content_by_name, request, ctx, caller, name, download)


def _content_by_name(request: Request, ctx: Context, caller: Caller, name: str, download: bool) -> Response:
    image = open_content(ctx, caller, name=name)
    cache = "private, max-age=60" if image.visibility is Visibility.PRIVATE else "public, max-age=60"
    return serve(request, ctx, image, download=download, cache_control=cache)


def serve(request: Request, ctx: Context, image: Image, *, download: bool, cache_control: str) -> Response:
    headers = {
        "ETag": image.etag,
        "Last-Modified": format_datetime(image.created_at, usegmt=True),
        "Cache-Control": cache_control,
        "Accept-Ranges": "bytes",
        "Content-Disposition": content_disposition(image.filename, download=download),
        "X-Content-Type-Options": "nosniff",
    }
    if _matches(request.headers.get("if-none-match"), image.etag):
        # The image's own Content-Type: a cache may copy a 304's headers onto the stored response,
        # and without one Mangum labels HTTP API (payload 2.0) answers "application/json".
        return Response(status_code=304, headers=headers, media_type=image.content_type)
    try:
        byte_range = _range(request.headers.get("range"), image.size)
    except Unsatisfiable:
        response = error_response(416, "requested range not satisfiable")
        response.headers.update({"Content-Range": f"bytes */{image.size}", "Accept-Ranges": "bytes"})
        return response
    if request.method == "HEAD":
        return Response(
            status_code=200,
            headers={**headers, "Content-Length": str(image.size)},
            media_type=image.content_type,
        )
    limit = ctx.limits.max_inline_bytes
    length = image.size if byte_range is None else byte_range[1] - byte_range[0] + 1
    if limit is not None and length > limit:
        # Too big for the response (Lambda's cap): send the client to storage, counting the access.
        url = redirect_url(ctx, image, download=download)
        return Response(status_code=302, headers={"Location": url, "Cache-Control": "no-store"})
    if byte_range is None:
        data, _ = read_content(ctx, image)
        return Response(content=data, status_code=200, headers=headers, media_type=image.content_type)
    start, end = byte_range
    data, _ = read_content(ctx, image, start, end)
    headers["Content-Range"] = f"bytes {start}-{end}/{image.size}"
    return Response(content=data, status_code=206, headers=headers, media_type=image.content_type)


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = [c.strip().removeprefix("W/") for c in if_none_match.split(",")]
    return "*" in candidates or etag in candidates


def _range(header: str | None, size: int) -> tuple[int, int] | None:
    """A single satisfiable range as (start, end inclusive); None to serve everything (no
    header, or one we ignore as RFC 9110 allows: several ranges, other units)."""
    if not header:
        return None
    match = RANGE.fullmatch(header.strip())
    if not match or (not match.group(1) and not match.group(2)):
        return None
    first, last = match.groups()
    if not first:
        length = int(last)
        if length == 0:
            raise Unsatisfiable
        return max(size - length, 0), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        raise Unsatisfiable
    return start, end
