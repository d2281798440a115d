"""The FastAPI app factory: routes, the hidden compatibility aliases, errors and request logs."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.routing import compile_path

from image_service import __version__
from image_service.api import cors, errors, openapi
from image_service.api.body_limit import BodyLimitMiddleware
from image_service.api.deps import AuthMode
from image_service.api.fast_content import FastContentMiddleware
from image_service.api.request_log import RequestLogMiddleware
from image_service.api.responses import JsonResponse
from image_service.api.routes import content, direct_uploads, docs, gallery, images, service
from image_service.api.upload_parsing import body_limit
from image_service.services.context import Context


def create_app(
    ctx: Context,
    *,
    auth: AuthMode = "api-key",
    backend: str = "local",
    cors_origins: Sequence[str] = (),
    base_path: str = "",
    inline_io: bool = False,
) -> FastAPI:
    """``base_path``: the path prefix that clients see and a proxy strips before the app (the API
    Gateway base path that Mangum strips): the docs pages and the document's `servers` use it.

    ``inline_io``: True when every port answers from local disk in microseconds (the embedded
    backend): ``deps.run_io`` then calls them on the event loop rather than pay a thread hop per
    request."""
    app = FastAPI(
        title="image-service",
        version=__version__,
        default_response_class=JsonResponse,
        description='Upload, list, sign and serve images. Errors are always `{"error": ...}`.',
        # Served by routes/docs.py instead, with their scripts from the service, not a CDN.
        docs_url=None,
        redoc_url=None,
        **_NO_TELEMETRY,
    )
    app.state.auth_mode = auth
    app.state.backend = backend
    app.state.base_path = base_path.rstrip("/")
    app.state.inline_io = inline_io
    errors.install(app)

    documented = (
        service.router,
        docs.router,
        gallery.router,
        direct_uploads.router,
        images.router,
        content.router,
    )
    # Older clients of similar services: same handlers, hidden from the OpenAPI document.
    hidden = [(r, "/api/v1") for r in (direct_uploads.router, images.router, content.router)]
    hidden.append((_aliases(), ""))
    for router in documented:
        app.include_router(router)
    for router, prefix in hidden:
        app.include_router(router, prefix=prefix, include_in_schema=False)
    mounted = [*((r, "") for r in documented), *hidden]
    paths = [p + route.path for r, p in mounted for route in r.routes if isinstance(route, APIRoute)]
    paths += [url for url in (app.openapi_url,) if url]
    app.state.context = dataclasses.replace(ctx, reserved_names=reserved_names(paths))
    # Last, so that `/{name}` never shadows /health, /docs or /openapi.json.
    for method in ("GET", "HEAD"):  # one route per method: distinct operationIds
        app.add_api_route(
            "/{name}",
            content.content_by_name,
            methods=[method],
            tags=["content"],
            operation_id=f"{method.lower()}ContentByName",
            summary=f"{'Get' if method == 'GET' else 'Head'} an image's bytes by its unique name",
            responses=content.BINARY,
            openapi_extra=content.RENDITION_QUERY,
        )
    # Each path template with its methods, for the Allow header of a 405 (errors.allowed_methods):
    # FastAPI keeps an included router as one route object, which names no path of its own.
    templates = [(p + rt.path, rt.methods) for r, p in mounted for rt in r.routes if isinstance(rt, APIRoute)]
    templates += [("/{name}", {"GET", "HEAD"}), (app.openapi_url or "/openapi.json", {"GET", "HEAD"})]
    app.state.route_methods = [(compile_path(p)[0], p.count("{"), set(m or ())) for p, m in templates]
    app.add_middleware(BodyLimitMiddleware, limit=body_limit(ctx.limits.max_image_bytes))
    # Inside the request log (preflights are logged and get an X-Request-ID), outside the body
    # limit (a browser can read its 413).
    cors.add_cors(app, cors_origins)
    # The content routes' GET and HEAD without FastAPI's per-request work (api/fast_content.py),
    # inside the request log, which logs them like any request.
    app.add_middleware(FastContentMiddleware, cors=bool(cors_origins))
    app.add_middleware(RequestLogMiddleware)
    openapi.install(app, auth=auth, base_path=base_path)
    return app


# FastAPI's native OpenTelemetry (0.16x; older versions in our range have none): off. It costs 7 %
# of a served GET even with no exporter configured, and FASTAPI_OTEL_AUTO_CONFIGURE would be a
# setting of the service that its docs do not list (docs/PERFORMANCE.md, "Serving").
_NO_TELEMETRY: dict[str, Any] = (
    {"telemetry": {"tracing": False, "metrics": False, "logs": False, "auto_configure": False}}
    if "telemetry" in inspect.signature(FastAPI.__init__).parameters
    else {}
)

# Names clients ask every web server for by convention, whether or not a route answers them yet.
CONVENTIONAL_NAMES = frozenset({"favicon.ico", "robots.txt"})


def reserved_names(paths: list[str]) -> frozenset[str]:
    """The first segment of every route path: ``/{name}`` can never serve an image so named."""
    first = {path.strip("/").split("/")[0] for path in paths}
    return frozenset(s for s in first if s and not s.startswith("{")) | CONVENTIONAL_NAMES


def _aliases() -> APIRouter:
    router = APIRouter()
    router.add_api_route("/upload", images.upload, methods=["POST"], status_code=201)
    router.add_api_route("/image/{image_id}", images.view, methods=["GET"])
    router.add_api_route("/image/{image_id}", images.delete, methods=["DELETE"])
    return router
