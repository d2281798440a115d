"""BodyLimitMiddleware stops a body while it streams, whatever Content-Length says."""

from __future__ import annotations

import asyncio

import pytest
from starlette.types import Message, Receive, Scope, Send

from image_service.api.body_limit import BodyLimitMiddleware
from image_service.domain.errors import PayloadTooLarge


def run(limit: int, chunks: list[bytes], seen: list[int]) -> None:
    """Feed ``chunks`` to an app that reads the whole body; ``seen`` gets the sizes it was given."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            seen.append(len(message.get("body", b"")))
            if not message.get("more_body"):
                return

    messages = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]

    async def receive() -> Message:
        return messages.pop(0)

    async def send(message: Message) -> None:
        raise AssertionError("nothing is sent here")

    asyncio.run(BodyLimitMiddleware(app, limit=limit)({"type": "http"}, receive, send))


def test_bodies_up_to_the_limit_pass_whole() -> None:
    seen: list[int] = []
    run(10, [b"12345", b"67890"], seen)
    assert seen == [5, 5]


def test_the_chunk_that_passes_the_limit_is_refused_and_nothing_after_it_is_read() -> None:
    seen: list[int] = []
    with pytest.raises(PayloadTooLarge):
        run(10, [b"12345", b"678901", b"x" * 100], seen)
    assert seen == [5]  # the app never got the chunk that crossed the limit, nor any after it
