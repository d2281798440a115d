"""The gallery: the web page at ``/`` for the people who own the images, and its assets.

The page is static files of the package (``image_service/web``: HTML, JavaScript modules, CSS;
no build step). The HTML is a template: this route fills in what the scripts need from the
server (where the API is, the largest file the page may send inline, the auth mode), so the
page has no inline script and the Content-Security-Policy can forbid every script but ours.

Assets are served by a plain route under /gallery, not a StaticFiles mount, for the reason
routes/docs.py gives (Mangum strips the API Gateway base path without setting root_path); the
page names them with that base path. ``gallery`` is the only name it reserves.
"""

from __future__ import annotations

import hashlib
import html
from functools import cache
from importlib.resources import files
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request, Response

from image_service import __version__
from image_service.api.deps import CallerDep, ContextDep
from image_service.api.errors import error_response
from image_service.api.routes.docs import prefix
from image_service.services.context import Context

ASSETS_URL = "/gallery"
ME_URL = "/gallery/me"
ASSET_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
PAGE = "index.html"
# The assets change only with the installed package; the ETag makes a revalidation a 304.
ASSET_CACHE = "no-cache"

router = APIRouter(include_in_schema=False)


def inline_limit(ctx: Context) -> int:
    """The largest file the page sends in an upload request; larger ones take the direct-upload
    flow. Behind Lambda that is the inline limit (the 6 MB payload cap, base64-encoded), which
    bootstrap puts in ``max_inline_bytes``; on a server, MAX_IMAGE_SIZE."""
    limits = ctx.limits
    if limits.max_inline_bytes is None:
        return limits.max_image_bytes
    return min(limits.max_image_bytes, limits.max_inline_bytes)


def storage_origin(request: Request, ctx: Context) -> str | None:
    """The origin of storage's own URLs (S3's), which the page loads full-size images from and
    posts direct uploads to; None when the service serves and receives every byte itself. Read
    once from a presigned URL: signing makes no request."""
    state = request.app.state
    if not hasattr(state, "gallery_storage_origin"):
        url = ctx.urls.presign_blob(
            "gallery-probe", content_type="image/png", disposition="inline", expires_in=60
        )
        origin = None
        if url and "://" in url:
            parts = urlsplit(url)
            origin = f"{parts.scheme}://{parts.netloc}"
        state.gallery_storage_origin = origin
    found: str | None = state.gallery_storage_origin
    return found


def content_security_policy(storage: str | None) -> str:
    extra = f" {storage}" if storage else ""
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src 'self'{extra}",
            f"connect-src 'self'{extra}",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )


@router.api_route("/", methods=["GET", "HEAD"])
async def page(request: Request, ctx: ContextDep) -> Response:
    root = prefix(request)
    storage = storage_origin(request, ctx)
    values = {
        "root": root,
        "inline_limit": str(inline_limit(ctx)),
        "auth": str(request.app.state.auth_mode),
        # Who signs the links of originals: S3 (whose links die with the credentials that signed
        # them, which are temporary behind Lambda), or the service itself.
        "signed_by": "s3" if storage else "service",
        "version": __version__,
    }
    body = _template()
    for name, value in values.items():
        body = body.replace("{{" + name + "}}", html.escape(value, quote=True))
    headers = {
        "Content-Security-Policy": content_security_policy(storage),
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
        # Thumbnail URLs of private images carry signatures: no Referer to anyone.
        "Referrer-Policy": "no-referrer",
    }
    return Response(content=body, headers=headers, media_type="text/html; charset=utf-8")


@router.get(ME_URL)
async def me(request: Request, caller: CallerDep) -> dict[str, Any]:
    """Who the page's key belongs to (401 for a wrong key), for sign-in and the "mine" filter."""
    return {
        "user_id": caller.user_id,
        "is_admin": caller.is_admin,
        "auth": request.app.state.auth_mode,
    }


@router.api_route(ASSETS_URL + "/{asset}", methods=["GET", "HEAD"])
async def asset(request: Request, asset: str) -> Response:
    found = _assets().get(asset)
    if found is None:  # only names listed from the package: no client string reaches a path
        return error_response(404, "not found")
    data, etag, media_type = found
    headers = {"ETag": etag, "Cache-Control": ASSET_CACHE, "X-Content-Type-Options": "nosniff"}
    if etag in (t.strip() for t in request.headers.get("if-none-match", "").split(",")):
        return Response(status_code=304, headers=headers)
    return Response(content=data, headers=headers, media_type=media_type)


def _web() -> Any:
    return files("image_service").joinpath("web")


@cache
def _template() -> str:
    text: str = _web().joinpath(PAGE).read_text(encoding="utf-8")
    return text


@cache
def _assets() -> dict[str, tuple[bytes, str, str]]:
    found = {}
    for entry in _web().iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1] if "." in entry.name else ""
        if entry.is_file() and suffix in ASSET_TYPES:
            data = entry.read_bytes()
            found[entry.name] = (data, f'"{hashlib.sha256(data).hexdigest()[:32]}"', ASSET_TYPES[suffix])
    return found
