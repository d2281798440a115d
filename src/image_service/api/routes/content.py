"""Image bytes: by id, by unique name (`/cat42.jpg`) or through a signed URL, with HTTP caching
(ETag, If-None-Match or If-Modified-Since -> 304), single byte ranges (206, If-Range) and one
counted access per GET."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from image_service.api.deps import CallerDep, ContextDep, ImageIdPath, run_io
from image_service.api.errors import error_response
from image_service.api.openapi import BACKEND_ERRORS, error_responses
from image_service.domain.disposition import content_disposition
from image_service.domain.errors import InvalidInput, NotFound
from image_service.domain.models import Caller, Image, Visibility
from image_service.domain.validation import NAME_PATTERN
from image_service.services.context import Context
from image_service.services.images import ContentGrant, open_content, read_content, redirect_url

router = APIRouter(tags=["content"])
RANGE = re.compile(r"bytes=(\d*)-(\d*)")
IMAGE_BYTES = {"image/*": {"schema": {"type": "string", "format": "binary"}}}
CACHE_HEADERS = {
    name: {"schema": {"type": "string"}, "description": description}
    for name, description in (
        ("ETag", "Strong validator of the bytes as stored"),
        ("Last-Modified", "When the image was uploaded"),
        ("Cache-Control", "public for public images, private otherwise"),
        ("Accept-Ranges", "`bytes`"),
        ("Content-Disposition", "`inline`, or `attachment` with `download=true`; the uploaded file name"),
    )
}
BINARY: dict[int | str, dict[str, Any]] = {
    200: {"content": IMAGE_BYTES, "description": "The image bytes", "headers": CACHE_HEADERS},
    206: {
        "content": IMAGE_BYTES,
        "description": "The bytes of a `Range: bytes=...` request",
        "headers": {**CACHE_HEADERS, "Content-Range": {"schema": {"type": "string"}}},
    },
    302: {
        "description": "Behind AWS Lambda, a body over the response limit: `Location` is a presigned URL"
        " of the bytes",
        "headers": {"Location": {"schema": {"type": "string"}}},
    },
    304: {"description": "Not modified (`If-None-Match` or `If-Modified-Since`)", "headers": CACHE_HEADERS},
    **error_responses(*BACKEND_ERRORS, 401, 403, 404, 416),
}
Download = Annotated[bool, Query(description="Answer as an attachment, with the uploaded file name")]


class Unsatisfiable(Exception):
    """The Range header asks for bytes the image does not have (answered 416)."""


# The hot path. All storage work of a GET (catalog read, file read, access-count write) happens in
# one sync function, run by `run_io`: on the event loop when the backend answers from local disk
# in microseconds (a thread hop and GIL hand-over cost more than the work), in the threadpool when
# it goes over the network. See docs/PERFORMANCE.md.
@router.get(
    "/images/{image_id}/content",
    responses=BINARY,
    operation_id="getImageContent",
    summary="An image's bytes",
    response_class=Response,
)
async def content_by_id(
    request: Request,
    image_id: ImageIdPath,
    ctx: ContextDep,
    caller: CallerDep,
    download: Download = False,
    expires: Annotated[int | None, Query(description="Of a signed URL: when it expires (Unix time)")] = None,
    signature: Annotated[str | None, Query(description="Of a signed URL")] = None,
) -> Response:
    """The bytes. With `expires` and `signature` (a signed URL) no credentials are needed."""
    grant = None
    if signature is not None or expires is not None:
        if signature is None or expires is None:
            raise InvalidInput("a signed URL needs both expires and signature")
        grant = ContentGrant(expires=expires, download=download, signature=signature)
    return await run_io(request, _content_by_id, request, ctx, caller, image_id, grant, download)


def _content_by_id(
    request: Request, ctx: Context, caller: Caller, image_id: str, grant: ContentGrant | None, download: bool
) -> Response:
    image = open_content(ctx, caller, image_id=image_id, grant=grant)
    cache = (
        "private, max-age=300" if grant or image.visibility is Visibility.PRIVATE else "public, max-age=3600"
    )
    return serve(request, ctx, image, download=download, cache_control=cache)


# HEAD as a route of its own: one route with both methods gives both operations one operationId.
router.add_api_route(
    "/images/{image_id}/content",
    content_by_id,
    methods=["HEAD"],
    responses=BINARY,
    operation_id="headImageContent",
    summary="An image's content headers, without the bytes",
    response_class=Response,
)


async def content_by_name(
    request: Request, name: str, ctx: ContextDep, caller: CallerDep, download: Download = False
) -> Response:
    """Serve by unique name, as in `/cat42.jpg`; registered last so it never shadows a route."""
    if not NAME_PATTERN.fullmatch(name):
        raise NotFound("not found")
    return await run_io(request, _content_by_name, request, ctx, caller, name, download)


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
    if _not_modified(request, image):
        # The image's own Content-Type: a cache may copy a 304's headers onto the stored response,
        # and without one Mangum labels HTTP API (payload 2.0) answers "application/json".
        return Response(status_code=304, headers=headers, media_type=image.content_type)
    try:
        byte_range = _range(request.headers.get("range"), image.size)
        if byte_range is not None and not _if_range_holds(request, image, headers["Last-Modified"]):
            byte_range = None  # the client's copy is stale: the whole, current body (RFC 9110 13.1.5)
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


def _not_modified(request: Request, image: Image) -> bool:
    """RFC 9110 13.2.2: If-None-Match decides when present; If-Modified-Since only without it."""
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        return _matches(if_none_match, image.etag)
    since = _http_date(request.headers.get("if-modified-since"))
    # Last-Modified has whole seconds: compare at that resolution.
    return since is not None and image.created_at.replace(microsecond=0) <= since


def _if_range_holds(request: Request, image: Image, last_modified: str) -> bool:
    """If-Range (RFC 9110 13.1.5): the range applies only to the representation the client has,
    named by a strong ETag or by exactly the Last-Modified date; anything else gets it whole."""
    validator = request.headers.get("if-range")
    if validator is None:
        return True
    validator = validator.strip()
    if validator.startswith(('"', "W/")):
        return validator == image.etag  # a weak tag never matches here: strong comparison
    return validator == last_modified


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):  # not a date: the header is ignored, as RFC 9110 says
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


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
