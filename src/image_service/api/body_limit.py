"""A cap on every request body, enforced while it streams in (Content-Length or chunked).

uvicorn sets no body limit, and Starlette's multipart parser spools files of any size to disk,
so without this a single chunked request could fill the disk before any route looks at it.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from image_service.domain.errors import PayloadTooLarge


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        received = 0

        async def capped() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise PayloadTooLarge(f"request body is larger than {self.limit} bytes")
            return message

        await self.app(scope, capped, send)
