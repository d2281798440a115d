"""The hot content routes without FastAPI's per-request machinery.

``GET`` and ``HEAD`` of ``/images/{image_id}/content`` (and its ``/api/v1`` alias) and of
``/{name}`` are most of a serving process's requests, and FastAPI's routing, dependency solving
and parameter validation cost more than the storage work of one (docs/PERFORMANCE.md, "Serving
(issue 14)"). This middleware, just inside the request log, answers them itself with the routes'
own code (``routes.content.answer_by_id`` / ``answer_by_name``, the same caller resolution and
error answers), so every rule of the content routes is written once.

It answers only what it reads exactly as the routes would. Anything else goes on to the FastAPI
app, which stays the documented route and the answer for the unusual: a query value that needs
FastAPI's parsing (``expires=+1``, or one it refuses with 400), a repeated parameter, an id the
route refuses with 400, an ``Origin`` header when CORS is configured (the CORS middleware answers
it), a rendition not made yet (rendered on the routes' thread pool), and a ``/{name}`` that is not
found (Starlette's routing then says what the path is).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from image_service.api import errors
from image_service.api.deps import API_KEY, BEARER, get_caller
from image_service.api.routes.content import NotMadeYet, answer_by_id, answer_by_name
from image_service.domain.errors import ImageServiceError, NotFound
from image_service.domain.validation import IMAGE_ID_PATTERN, NAME_PATTERN

ID_PREFIXES = ("/images/", "/api/v1/images/")
CONTENT_SUFFIX = "/content"
# The values pydantic reads as a bool in lax mode (lower case): anything else goes to FastAPI.
BOOLS = {
    **dict.fromkeys(("1", "on", "t", "true", "y", "yes"), True),
    **dict.fromkeys(("0", "off", "f", "false", "n", "no"), False),
}
MAX_INT_DIGITS = 18
# The headers API_KEY and BEARER read (most GETs of public images carry neither).
CREDENTIALS = (b"x-api-key", b"authorization")


class Fallback(Exception):
    """This request is for the FastAPI app."""


class FastContentMiddleware:
    """``cors``: origins are configured (api/cors.py), so a request with an ``Origin`` header is
    the CORS middleware's and every answer here varies on ``Origin``."""

    def __init__(self, app: ASGIApp, *, cors: bool) -> None:
        self.app = app
        self.cors = cors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        target = self._target(scope)
        if target is not None:
            try:
                response = await self._answer(scope, receive, *target)
            except Fallback:
                pass
            else:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _target(self, scope: Scope) -> tuple[str, str] | None:
        """("id", image_id) or ("name", name) for a request this middleware answers."""
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD") or scope.get("root_path"):
            return None
        if self.cors and any(name == b"origin" for name, _ in scope["headers"]):
            return None
        path: str = scope["path"]
        for prefix in ID_PREFIXES:
            if path.startswith(prefix) and path.endswith(CONTENT_SUFFIX):
                image_id = path[len(prefix) : -len(CONTENT_SUFFIX)]
                return ("id", image_id) if IMAGE_ID_PATTERN.fullmatch(image_id) else None
        name = path[1:]
        if "/" in name or not NAME_PATTERN.fullmatch(name):
            return None
        # A route answers /<first segment of its path>: no image has such a name (app.py).
        if name in scope["app"].state.context.reserved_names:
            return None
        return "name", name

    async def _answer(self, scope: Scope, receive: Receive, kind: str, value: str) -> Response:
        request = Request(scope, receive)
        query = _Query(request) if scope["query_string"] else None
        download = False if query is None else query.flag("download")
        try:
            if any(name in CREDENTIALS for name, _ in scope["headers"]):
                api_key, bearer = await API_KEY(request), await BEARER(request)
            else:  # what both schemes answer without their header, without asking them
                api_key, bearer = None, None
            caller = await get_caller(request, api_key, bearer)
            ctx = request.app.state.context
            if kind == "id":
                expires = None if query is None else query.integer("expires")
                signature = None if query is None else query.text("signature")
                response = await answer_by_id(
                    request, ctx, caller, value, download, expires, signature, render=False
                )
            else:
                response = await answer_by_name(request, ctx, caller, value, download, render=False)
        except NotMadeYet:
            raise Fallback from None
        except NotFound as exc:
            if kind == "name":
                raise Fallback from None
            response = await errors.on_domain_error(request, exc)
        except ImageServiceError as exc:
            response = await errors.on_domain_error(request, exc)
        if self.cors:
            # As OriginCorsMiddleware labels an answer to a request without Origin.
            response.headers.add_vary_header("Origin")
        return response


class _Query:
    """The query's values as FastAPI would read them for these routes (the last of a repeated
    name), or Fallback for a value only FastAPI's parsing knows what to do with."""

    def __init__(self, request: Request) -> None:
        self.params: Any = request.query_params

    def _last(self, name: str) -> str | None:
        values: list[str] = self.params.getlist(name)
        if len(values) > 1:
            raise Fallback
        return values[0] if values else None

    def flag(self, name: str) -> bool:
        value = self._last(name)
        if value is None:
            return False
        try:
            return BOOLS[value.lower()]
        except KeyError:
            raise Fallback from None

    def integer(self, name: str) -> int | None:
        value = self._last(name)
        if value is None:
            return None
        if not (value.isascii() and value.isdigit() and len(value) <= MAX_INT_DIGITS):
            raise Fallback
        return int(value)

    def text(self, name: str) -> str | None:
        return self._last(name)
