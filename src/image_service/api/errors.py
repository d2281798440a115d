"""Every error leaves the API as {"error": ...}: domain errors with their own status, request
validation as 400 (never FastAPI's 422), anything unexpected as a generic 500 with the detail
only in the log."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from image_service.api.responses import JsonResponse
from image_service.domain.errors import ImageServiceError

log = logging.getLogger("image_service.api")


def error_response(status: int, message: str, details: list[Any] | None = None) -> JsonResponse:
    body: dict[str, Any] = {"error": message}
    if details:
        body["details"] = details
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JsonResponse(body, status_code=status, headers=headers)


async def on_domain_error(request: Request, exc: Exception) -> JsonResponse:
    assert isinstance(exc, ImageServiceError)
    if exc.status >= 500:
        log.error("backend failure on %s %s: %r", request.method, request.url.path, exc.__cause__ or exc)
        return error_response(exc.status, exc.public_message)
    return error_response(exc.status, exc.message, exc.details)


async def on_validation_error(request: Request, exc: Exception) -> JsonResponse:
    assert isinstance(exc, RequestValidationError)
    details = [{"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", "")} for e in exc.errors()]
    where = ", ".join(".".join(d["loc"][1:] or d["loc"]) for d in details) or "request"
    return error_response(400, f"invalid parameter or body: {where}", details)


async def on_http_error(request: Request, exc: Exception) -> JsonResponse:
    assert isinstance(exc, StarletteHTTPException)
    response = error_response(exc.status_code, str(exc.detail))
    if exc.status_code == 405:
        response.headers["Allow"] = ", ".join(allowed_methods(request))
    return response


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (RFC 9110: a 405 lists them in ``Allow``).
    Starlette names only the first route that matched the path, and ``/images`` has three. Only
    the routes with the fewest parameters count, the resource the path names: the catch-all
    ``/{name}`` never serves ``/images``, nor ``/images/{image_id}`` the literal
    ``/images/uploads`` (the document says POST there, and so must ``Allow``)."""
    path: str = request.scope["path"]
    templates: list[tuple[re.Pattern[str], int, set[str]]] = request.app.state.route_methods
    matching = [(params, methods) for regex, params, methods in templates if regex.match(path)]
    fewest = min((params for params, _ in matching), default=0)
    return sorted(set().union(*(m for params, m in matching if params == fewest)))


async def on_client_disconnect(request: Request, exc: Exception) -> JsonResponse:
    """The client went away mid-body (or was cut off by a body deadline): nobody reads this
    answer, and it is no bug of ours, so no 500 and no traceback."""
    log.info("client disconnected during %s %s", request.method, request.url.path)
    return error_response(400, "the client closed the connection before the request was complete")


async def on_unexpected(request: Request, exc: Exception) -> JsonResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    response = error_response(500, "internal error")
    # Starlette re-raises after this answer and the server then drops the connection: say so,
    # or a keep-alive client sends its next request into a closed socket.
    response.headers["Connection"] = "close"
    request_id = request.scope.get("state", {}).get("request_id")
    if request_id:
        response.headers["X-Request-ID"] = request_id
    return response


def install(app: FastAPI) -> None:
    app.add_exception_handler(ImageServiceError, on_domain_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(ClientDisconnect, on_client_disconnect)
    app.add_exception_handler(Exception, on_unexpected)
