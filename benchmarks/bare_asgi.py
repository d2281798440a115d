"""A floor for the serving benchmark: uvicorn with a bare ASGI app and no framework.

It answers every GET with the bytes of ``$BENCH_BARE_FILE``, read from disk per request like the
service does, with no routing, auth, SQLite or logging. What it reaches is about the most any
Python app on one uvicorn worker can serve here, so it bounds what image-service could reach.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def app() -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    path = Path(os.environ["BENCH_BARE_FILE"])

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = path.read_bytes()
        headers = [(b"content-type", b"image/jpeg"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return serve
