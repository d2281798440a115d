"""The API docs pages, /docs (Swagger UI) and /redoc, with their scripts and styles served by the
service itself: they work on a network without internet access.

The assets are the Swagger UI and Redoc bundles that the ``fastapi-offline`` package ships (MIT;
Swagger UI is Apache-2.0, Redoc MIT), read from its package data: no file of theirs is copied
into this repository. They are served by a plain route rather than a StaticFiles mount, because
a mount matches on ``root_path`` and Mangum strips the API Gateway base path without setting it.
Everything sits under /docs, so ``docs`` is the only name the pages reserve (app.reserved_names).
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib.resources import files

from fastapi import APIRouter, Request, Response
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse

from image_service.api.errors import error_response

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
OPENAPI_URL = "/openapi.json"
ASSETS_URL = "/docs/assets"
ASSET_PACKAGE = "fastapi_offline"
ASSET_TYPES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
TITLE = "image-service"
SWAGGER_UI_PARAMETERS = {
    # The key given to "Authorize" survives a reload of the page (in the browser's localStorage).
    "persistAuthorization": True,
    "displayRequestDuration": True,
    # Swagger UI would send the document to validator.swagger.io for a badge: nothing leaves.
    "validatorUrl": None,
}

# Nothing on these pages may reach past this service: Redoc's sidebar loads its vendor's logo from
# a CDN, unconditionally, and the browser refuses it here (the image then hides itself).
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",  # the page's own inline start-up script
        "style-src 'self' 'unsafe-inline'",  # Redoc and Swagger UI style elements at run time
        "img-src 'self' data:",
        "font-src 'self' data:",
        "worker-src 'self' blob:",  # Redoc's search index runs in a worker made from a blob
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
    )
)

router = APIRouter(include_in_schema=False)


def _page(response: HTMLResponse) -> HTMLResponse:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


def prefix(request: Request) -> str:
    """What the browser's URLs have before our paths: the API Gateway base path (Mangum strips it
    from the path it hands us; lambda_app puts it in app.state) and an ASGI server's root path."""
    base_path: str = getattr(request.app.state, "base_path", "")
    root_path: str = request.scope.get("root_path", "")
    return base_path.rstrip("/") + root_path.rstrip("/")


@router.get(DOCS_URL)
async def swagger_ui(request: Request) -> HTMLResponse:
    root = prefix(request)
    page = get_swagger_ui_html(
        openapi_url=root + OPENAPI_URL,
        title=f"{TITLE} - Swagger UI",
        swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
        swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
        oauth2_redirect_url=root + OAUTH2_REDIRECT_URL,
        swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
    )
    return _page(page)


@router.get(OAUTH2_REDIRECT_URL)
async def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get(REDOC_URL)
async def redoc(request: Request) -> HTMLResponse:
    root = prefix(request)
    page = get_redoc_html(
        openapi_url=root + OPENAPI_URL,
        title=f"{TITLE} - ReDoc",
        redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
        with_google_fonts=False,  # no fonts from Google
    )
    return _page(page)


@router.get(ASSETS_URL + "/{asset}")
async def docs_asset(request: Request, asset: str) -> Response:
    media_type = ASSET_TYPES.get(asset)
    if media_type is None:  # a fixed list: no client string ever reaches a file path
        return error_response(404, "not found")
    data, etag = _asset(asset)
    # The bundles change only with the package's version, which changes their ETag.
    headers = {"ETag": etag, "Cache-Control": "public, max-age=86400"}
    if etag in (t.strip() for t in request.headers.get("if-none-match", "").split(",")):
        return Response(status_code=304, headers=headers)
    return Response(content=data, headers=headers, media_type=media_type)


@cache
def _asset(name: str) -> tuple[bytes, str]:
    data = files(ASSET_PACKAGE).joinpath("static", name).read_bytes()
    return data, f'"{hashlib.sha256(data).hexdigest()[:32]}"'
