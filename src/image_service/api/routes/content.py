"""Image bytes: by id, by unique name (`/cat42.jpg`) or through a signed URL, with HTTP caching
(ETag, If-None-Match or If-Modified-Since -> 304), single byte ranges (206, If-Range) and one
counted access per GET.

With any of ``w``, ``h``, ``fit``, ``format``, ``quality`` the same routes answer a rendition
(services/renditions.py) in the same way, with its own type, ETag and length. Those parameters
are read from the query only when one is there, so the original's GET pays nothing for them; they
are declared to OpenAPI by hand (``RENDITION_PARAMETERS``). Other query parameters are ignored
here, unlike on the list: a content URL is put in pages and caches as it is, and cache-busting
suffixes (``?v=2``) are common; a misspelled filter would hide images, an ignored one here changes
nothing the client does not see at once.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import weakref
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from types import MappingProxyType
from typing import Annotated, Any

import anyio
import anyio.to_thread
from fastapi import APIRouter, Query, Request, Response

from image_service.api.accel import NGINX_JUDGED, offload
from image_service.api.deps import CallerDep, ContextDep, ImageIdPath, run_io
from image_service.api.errors import error_response
from image_service.api.openapi import BACKEND_ERRORS, error_responses
from image_service.api.renditions import negotiate, parse_request, wants_rendition
from image_service.domain.disposition import content_disposition, renamed_for
from image_service.domain.errors import InvalidInput, NotFound
from image_service.domain.models import Caller, Image, Visibility
from image_service.domain.validation import NAME_PATTERN
from image_service.services.context import Context
from image_service.services.images import (
    REDIRECT_EXPIRY,
    ContentGrant,
    count_access,
    open_content,
    read_content,
    redirect_url,
)
from image_service.services.renditions import (
    RenditionRequest,
    get_or_make,
    plan,
)
from image_service.services.renditions import stored as stored_rendition

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
        ("Vary", "`Accept` on a rendition whose format was chosen from it (`format=auto`)"),
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
    **error_responses(*BACKEND_ERRORS, 401, 403, 404, 413, 416),
}
_SIZE = (
    "One of IMAGE_SERVICE_RENDITION_SIZES (default 64, 128, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096)"
)
# Declared to OpenAPI only: the route reads them from the query itself, and only when present.
RENDITION_PARAMETERS: list[dict[str, Any]] = [
    {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }
    for name, description, schema in (
        ("w", f"A rendition: the box's width in pixels. {_SIZE}", {"type": "integer", "minimum": 1}),
        ("h", f"A rendition: the box's height in pixels. {_SIZE}", {"type": "integer", "minimum": 1}),
        (
            "fit",
            "`inside` (the whole image within w x h) or `cover` (exactly w x h, cropped; needs both)",
            {"type": "string", "enum": ["inside", "cover"]},
        ),
        (
            "format",
            "`auto` (WebP when Accept allows it, else JPEG, or PNG with transparency) or a format",
            {"type": "string", "enum": ["auto", "jpeg", "png", "webp", "avif"]},
        ),
        ("quality", "Encoder quality, 1..100", {"type": "integer", "minimum": 1, "maximum": 100}),
    )
]
RENDITION_QUERY: dict[str, Any] = {"parameters": RENDITION_PARAMETERS}
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
    summary="An image's bytes, or a rendition of them",
    response_class=Response,
    openapi_extra=RENDITION_QUERY,
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
    """The bytes. With `expires` and `signature` (a signed URL) no credentials are needed. With
    `w`, `h`, `fit`, `format` or `quality`, a rendition: resized, re-encoded, made once."""
    return await answer_by_id(request, ctx, caller, image_id, download, expires, signature)


async def answer_by_id(
    request: Request,
    ctx: Context,
    caller: Caller,
    image_id: str,
    download: bool,
    expires: int | None,
    signature: str | None,
    *,
    render: bool = True,
) -> Response:
    """The answer of ``GET /images/{image_id}/content``, for the route and for the fast path
    (api/fast_content.py). Without ``render``, a rendition not stored yet raises NotMadeYet."""
    grant = None
    if signature is not None or expires is not None:
        if signature is None or expires is None:
            raise InvalidInput("a signed URL needs both expires and signature")
        grant = ContentGrant(expires=expires, download=download, signature=signature)
    if request.scope.get("query_string") and wants_rendition(request.query_params):
        wanted = parse_request(request.query_params, ctx.limits.rendition_sizes)
        args = (request, ctx, caller, image_id, grant, download, wanted)
        return await answer_rendition(request, _rendition_by_id, *args, render=render)
    return await run_io(request, _content_by_id, request, ctx, caller, image_id, grant, download)


def _content_by_id(
    request: Request, ctx: Context, caller: Caller, image_id: str, grant: ContentGrant | None, download: bool
) -> Response:
    image = open_content(ctx, caller, image_id=image_id, grant=grant)
    return serve(request, ctx, image, download=download, cache_control=_cache_by_id(image, grant))


def _rendition_by_id(
    request: Request,
    ctx: Context,
    caller: Caller,
    image_id: str,
    grant: ContentGrant | None,
    download: bool,
    wanted: RenditionRequest,
    may_make: bool,
) -> Response:
    image = open_content(ctx, caller, image_id=image_id, grant=grant, rendition=wanted)
    cache = _cache_by_id(image, grant)
    return serve_rendition(
        request, ctx, image, wanted, download=download, cache_control=cache, may_make=may_make
    )


class NotMadeYet(Exception):
    """The rendition is not stored yet: making it is work for a thread, not the event loop."""


# Threads that make renditions, per event loop: their own, fewer than the shared pool's 40, so a
# burst of first requests (each rendering for up to a second, or waiting for the pixel budget or
# for the one request making the same rendition) queues here and never takes the threads that
# lists, uploads and the AWS backend's reads need.
RENDER_THREADS = 2 * (os.cpu_count() or 1)
_render_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = (
    weakref.WeakKeyDictionary()
)


def _render_limiter() -> anyio.CapacityLimiter:
    loop = asyncio.get_running_loop()
    limiter = _render_limiters.get(loop)
    if limiter is None:
        limiter = _render_limiters[loop] = anyio.CapacityLimiter(RENDER_THREADS)
    return limiter


async def answer_rendition(
    request: Request, work: Callable[..., Response], *args: Any, render: bool = True
) -> Response:
    """A stored rendition is served the original's way (``run_io``: inline on local storage);
    only a first request, which renders (CPU for milliseconds) and may wait on the per-key lock
    that makes concurrent first requests render once, goes to a thread of its own pool."""
    try:
        return await run_io(request, work, *args, False)
    except NotMadeYet:
        if not render:
            raise
        return await anyio.to_thread.run_sync(functools.partial(work, *args, True), limiter=_render_limiter())


def _cache_by_id(image: Image, grant: ContentGrant | None) -> str:
    if grant or image.visibility is Visibility.PRIVATE:
        return "private, max-age=300"
    return "public, max-age=3600"


def _cache_by_name(image: Image) -> str:
    return "private, max-age=60" if image.visibility is Visibility.PRIVATE else "public, max-age=60"


# HEAD as a route of its own: one route with both methods gives both operations one operationId.
router.add_api_route(
    "/images/{image_id}/content",
    content_by_id,
    methods=["HEAD"],
    responses=BINARY,
    operation_id="headImageContent",
    summary="An image's content headers, without the bytes",
    response_class=Response,
    openapi_extra=RENDITION_QUERY,
)


async def content_by_name(
    request: Request, name: str, ctx: ContextDep, caller: CallerDep, download: Download = False
) -> Response:
    """Serve by unique name, as in `/cat42.jpg`; registered last so it never shadows a route."""
    return await answer_by_name(request, ctx, caller, name, download)


async def answer_by_name(
    request: Request, ctx: Context, caller: Caller, name: str, download: bool, *, render: bool = True
) -> Response:
    """The answer of ``GET /{name}``, as ``answer_by_id`` is of the content route by id."""
    if not NAME_PATTERN.fullmatch(name):
        raise NotFound("not found")
    if request.scope.get("query_string") and wants_rendition(request.query_params):
        wanted = parse_request(request.query_params, ctx.limits.rendition_sizes)
        args = (request, ctx, caller, name, download, wanted)
        return await answer_rendition(request, _rendition_by_name, *args, render=render)
    return await run_io(request, _content_by_name, request, ctx, caller, name, download)


def _content_by_name(request: Request, ctx: Context, caller: Caller, name: str, download: bool) -> Response:
    image = open_content(ctx, caller, name=name)
    return serve(request, ctx, image, download=download, cache_control=_cache_by_name(image))


def _rendition_by_name(
    request: Request,
    ctx: Context,
    caller: Caller,
    name: str,
    download: bool,
    wanted: RenditionRequest,
    may_make: bool,
) -> Response:
    image = open_content(ctx, caller, name=name)
    return serve_rendition(
        request, ctx, image, wanted, download=download, cache_control=_cache_by_name(image), may_make=may_make
    )


def serve(request: Request, ctx: Context, image: Image, *, download: bool, cache_control: str) -> Response:
    headers, encoded = _image_headers(image.etag, image.created_at, cache_control, image.filename, download)
    conditions = _conditions(request)
    if _not_modified(conditions, image.etag, image.created_at):
        # The image's own Content-Type: a cache may copy a 304's headers onto the stored response,
        # and without one Mangum labels HTTP API (payload 2.0) answers "application/json".
        return Response(status_code=304, headers=headers, media_type=image.content_type)
    try:
        byte_range = _range(conditions.get("range"), image.size)
        if byte_range is not None and not _if_range_holds(conditions, image.etag, headers["Last-Modified"]):
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
    accel = offload(request, conditions, range_applies=byte_range is not None)
    if accel is not None:  # nginx sends the bytes (api/accel.py), and the range if one applies
        count_access(ctx, image)
        handed = accel.encoded(encoded, image.blob_key, byte_range is not None)
        return PreparedResponse(b"", 200, handed, image.content_type)
    if byte_range is None:
        data = read_content(ctx, image)
        return PreparedResponse(data, 200, encoded, image.content_type)
    start, end = byte_range
    data = read_content(ctx, image, start, end)
    ranged = {**headers, "Content-Range": f"bytes {start}-{end}/{image.size}"}
    return Response(content=data, status_code=206, headers=ranged, media_type=image.content_type)


# The headers that decide a content answer: validators, Range, and those nginx would judge.
DECIDING = frozenset(
    name.encode() for name in ("if-none-match", "if-modified-since", "range", "if-range", *NGINX_JUDGED)
)


def _conditions(request: Request) -> dict[str, str]:
    """The request's deciding headers (the first of each name, as Starlette's ``Headers.get``),
    read in one pass: most GETs carry none of them, and each miss in ``request.headers`` costs a
    KeyError inside the Mapping protocol."""
    found: dict[str, str] = {}
    for name, value in request.scope["headers"]:
        if name in DECIDING:
            found.setdefault(name.decode("latin-1"), value.decode("latin-1"))
    return found


class PreparedResponse(Response):
    """A Response whose headers are encoded already (``_image_headers``): the answer of nearly
    every GET, whose header values repeat for each image. It adds what Starlette's would, in the
    same order: Content-Length of the body, then Content-Type."""

    def __init__(
        self, body: bytes, status_code: int, encoded: tuple[tuple[bytes, bytes], ...], media_type: str
    ) -> None:
        self.status_code = status_code
        self.media_type = media_type
        self.background = None
        self.body = body
        self.raw_headers = [*encoded, (b"content-length", b"%d" % len(body)), _content_type(media_type)]


@functools.lru_cache(maxsize=64)
def _content_type(media_type: str) -> tuple[bytes, bytes]:
    # What Starlette's Response writes for the type (its charset rule included).
    probe = Response(media_type=media_type)
    return next(header for header in probe.raw_headers if header[0] == b"content-type")


# The same few images are served over and over: their headers are made and encoded once each.
@functools.lru_cache(maxsize=4096)
def _image_headers(
    etag: str, created_at: datetime, cache_control: str, filename: str, download: bool
) -> tuple[Mapping[str, str], tuple[tuple[bytes, bytes], ...]]:
    """An original's headers, as a read-only mapping and encoded as Starlette encodes them."""
    headers = {
        "ETag": etag,
        "Last-Modified": _http_date_of(created_at),
        "Cache-Control": cache_control,
        "Accept-Ranges": "bytes",
        "Content-Disposition": _disposition(filename, download),
        "X-Content-Type-Options": "nosniff",
    }
    encoded = tuple(
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()
    )
    return MappingProxyType(headers), encoded


def serve_rendition(
    request: Request,
    ctx: Context,
    image: Image,
    wanted: RenditionRequest,
    *,
    download: bool,
    cache_control: str,
    may_make: bool = True,
) -> Response:
    """A rendition, answered as ``serve`` answers the original. The ETag comes from the image and
    the request, so a 304 reads nothing; the bytes are read (or made) for everything else.
    Without ``may_make``, a rendition not stored yet raises NotMadeYet (``answer_rendition``)."""
    output = negotiate(wanted.format, request.headers.get("accept"), auto_avif=ctx.limits.auto_avif)
    rendition = plan(ctx, image, wanted, output)
    headers = {
        "ETag": rendition.etag,
        "Last-Modified": _http_date_of(image.created_at),
        "Cache-Control": cache_control,
        "Accept-Ranges": "bytes",
        "X-Content-Type-Options": "nosniff",
    }
    if rendition.varies:
        headers["Vary"] = "Accept"
    found, looked = None, False
    conditions = _conditions(request)
    if _not_modified(conditions, rendition.etag, image.created_at):
        if rendition.content_type is not None:
            return Response(status_code=304, headers=headers, media_type=rendition.content_type)
        # JPEG or PNG by the image's transparency: the stored object says which. A 304 carries
        # the type (a cache may copy it onto its stored answer, and without one Mangum labels an
        # HTTP API answer application/json); the client's copy exists, so the object nearly does.
        found, looked = stored_rendition(ctx, rendition), True
        if found is not None:
            return Response(status_code=304, headers=headers, media_type=found.content_type)
    if may_make:
        found = get_or_make(ctx, rendition)
    elif not looked:
        found = stored_rendition(ctx, rendition)
    if found is None:
        raise NotMadeYet
    stored = found
    size = len(stored.data)
    filename = renamed_for(image.filename, stored.extension)
    headers["Content-Disposition"] = _disposition(filename, download)
    try:
        byte_range = _range(conditions.get("range"), size)
        if byte_range is not None and not _if_range_holds(
            conditions, rendition.etag, headers["Last-Modified"]
        ):
            byte_range = None
    except Unsatisfiable:
        response = error_response(416, "requested range not satisfiable")
        response.headers.update({"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"})
        return response
    if request.method == "HEAD":
        return Response(
            status_code=200, headers={**headers, "Content-Length": str(size)}, media_type=stored.content_type
        )
    start, end = (0, size - 1) if byte_range is None else byte_range
    limit = ctx.limits.max_inline_bytes
    if limit is not None and end - start + 1 > limit:
        url = ctx.urls.presign_blob(
            rendition.key,
            content_type=stored.content_type,
            disposition=headers["Content-Disposition"],
            expires_in=min(REDIRECT_EXPIRY, ctx.limits.max_url_expiry),
        )
        if url is not None:  # storage has URLs (S3): send the client there, counting the access
            count_access(ctx, image)
            return Response(status_code=302, headers={"Location": url, "Cache-Control": "no-store"})
    count_access(ctx, image)
    accel = offload(request, conditions, range_applies=byte_range is not None)
    if accel is not None:
        handed = accel.headers(headers, rendition.key, ranged=byte_range is not None)
        return Response(status_code=200, headers=handed, media_type=stored.content_type)
    if byte_range is None:
        return Response(content=stored.data, status_code=200, headers=headers, media_type=stored.content_type)
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    body = stored.data[start : end + 1]
    return Response(content=body, status_code=206, headers=headers, media_type=stored.content_type)


# The same few images are served over and over: their header values are made once each.
@functools.lru_cache(maxsize=4096)
def _http_date_of(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


@functools.lru_cache(maxsize=4096)
def _disposition(filename: str, download: bool) -> str:
    return content_disposition(filename, download=download)


def _not_modified(conditions: Mapping[str, str], etag: str, created_at: datetime) -> bool:
    """RFC 9110 13.2.2: If-None-Match decides when present; If-Modified-Since only without it."""
    if_none_match = conditions.get("if-none-match")
    if if_none_match is not None:
        return _matches(if_none_match, etag)
    since = _http_date(conditions.get("if-modified-since"))
    # Last-Modified has whole seconds: compare at that resolution.
    return since is not None and created_at.replace(microsecond=0) <= since


def _if_range_holds(conditions: Mapping[str, str], etag: str, last_modified: str) -> bool:
    """If-Range (RFC 9110 13.1.5): the range applies only to the representation the client has,
    named by a strong ETag or by exactly the Last-Modified date; anything else gets it whole."""
    validator = conditions.get("if-range")
    if validator is None:
        return True
    validator = validator.strip()
    if validator.startswith(('"', "W/")):
        return validator == etag  # a weak tag never matches here: strong comparison
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
