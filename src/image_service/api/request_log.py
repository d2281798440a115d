"""One log record per request (a JSON line, see logs.py) and an X-Request-ID on every response
(pure ASGI, no buffering).

Only the path is logged, never the query string: signed URLs carry their signature there.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import secrets
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("image_service.access")
REQUEST_ID = re.compile(r"[A-Za-z0-9._\-]{1,64}")


class _RequestIds:
    """32 hex digits, unique without asking the OS for randomness per request (uuid4 is a
    getrandom call, a fifth of this middleware's cost): a random prefix per process, made again
    in a forked child, and a counter."""

    def __init__(self) -> None:
        self.reseed()
        os.register_at_fork(after_in_child=self.reseed)

    def reseed(self) -> None:
        self.prefix = secrets.token_hex(8)
        self.counter = itertools.count()

    def next(self) -> str:
        return f"{self.prefix}{next(self.counter):016x}"


_ids = _RequestIds()


def request_id_of(scope: Scope) -> str:
    """The client's X-Request-ID when it is a sane token, else a new one."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            incoming: str = value.decode("latin-1")
            if REQUEST_ID.fullmatch(incoming):
                return incoming
            break
    return _ids.next()


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_of(scope)
        state: dict[str, Any] = scope.setdefault("state", {})
        # Unhandled errors are answered by Starlette's outermost middleware, which never passes
        # through send_with_id below: errors.on_unexpected reads the id from here instead.
        state["request_id"] = request_id
        status = 500
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if log.isEnabledFor(logging.INFO):
                method, path = scope["method"], scope["path"]
                fields = {
                    "method": method,
                    "path": path,
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "request_id": request_id,
                    "user": state.get("user", "-"),
                }
                # The fields are the record's own (logs.py writes them into its JSON object).
                # Made here rather than by log.info, which would walk the stack for the caller's
                # file and line (a fifth of the line's cost), fields no JSON line has; and by the
                # record factory itself, as makeRecord would, without its per-field checks (these
                # names are ours and clash with no LogRecord attribute).
                record = logging.getLogRecordFactory()(
                    log.name, logging.INFO, "", 0, "%s %s %s", (method, path, status), None
                )
                record.__dict__.update(fields)
                log.handle(record)
