"""One log record per request (a JSON line, see logs.py) and an X-Request-ID on every response
(pure ASGI, no buffering).

Only the path is logged, never the query string: signed URLs carry their signature there.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("image_service.access")
REQUEST_ID = re.compile(r"[A-Za-z0-9._\-]{1,64}")


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        state: dict[str, Any] = scope.setdefault("state", {})
        # Unhandled errors are answered by Starlette's outermost middleware, which never passes
        # through send_with_id below: errors.on_unexpected reads the id from here instead.
        state["request_id"] = request_id
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            fields = {
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "request_id": request_id,
                "user": state.get("user", "-"),
            }
            # The fields are the record's own (logs.py writes them into its JSON object).
            log.info("%s %s %s", fields["method"], fields["path"], status, extra=fields)
