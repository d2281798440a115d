"""Which browser pages may call the API: the origins of ``IMAGE_SERVICE_CORS_ORIGINS``, and the one
rule for what they may send and read.

The same rule is written into the HTTP API's CORS configuration in infra/template.yaml (a test
holds the two together): behind API Gateway, the gateway answers preflights itself and replaces
whatever CORS headers the function returns.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

METHODS = ("GET", "HEAD", "POST", "PATCH", "DELETE", "OPTIONS")
# What a client of this API sends: its credentials (a key, never a cookie), the upload's type,
# and the headers of retries, ranges and revalidation.
ALLOW_HEADERS = (
    "authorization",
    "x-api-key",
    "content-type",
    "idempotency-key",
    "range",
    "if-none-match",
    "if-match",
    "x-request-id",
)
# What a script may read beyond the CORS-safelisted headers.
EXPOSE_HEADERS = ("etag", "content-range", "content-disposition", "location", "x-request-id")
MAX_AGE = 3600


def add_cors(app: FastAPI, origins: Sequence[str]) -> None:
    """Answer preflights from, and label responses for, these origins ("*": any origin)."""
    if origins:
        app.add_middleware(OriginCorsMiddleware, origins=tuple(origins))


class OriginCorsMiddleware:
    """Starlette's CORSMiddleware for the allowed origins only: a request from any other origin
    goes straight to the app and gets no CORS header at all (Starlette's would still add its
    Access-Control-Expose-Headers and, to a refused preflight, its allowed methods and headers)."""

    def __init__(self, app: ASGIApp, origins: tuple[str, ...]) -> None:
        self.app = app
        self.origins = frozenset(origins)
        self.cors = CORSMiddleware(
            app,
            allow_origins=list(origins),
            allow_methods=list(METHODS),
            allow_headers=list(ALLOW_HEADERS),
            expose_headers=list(EXPOSE_HEADERS),
            # Keys travel in headers, not cookies: a credentialed (cookie) request is never needed.
            allow_credentials=False,
            max_age=MAX_AGE,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin = Headers(scope=scope).get("origin")
        if origin is not None and ("*" in self.origins or origin in self.origins):
            await self.cors(scope, receive, send)
            return

        async def send_varying(message: Message) -> None:
            # The answer depends on the Origin: a shared cache must not hand this one (without
            # CORS headers) to a page of an allowed origin.
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                MutableHeaders(scope=message).add_vary_header("Origin")
            await send(message)

        await self.app(scope, receive, send_varying)
