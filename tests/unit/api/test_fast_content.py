"""The fast path of the content routes (api/fast_content.py) answers exactly as the FastAPI routes
do, and takes the hot requests while the unusual ones go on to FastAPI.

Each request is sent to the real app (SQLite, files, a real key) twice: once as built, once with
the fast path taken out; the two answers must be the same but for the request id and the date.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from PIL import Image as PILImage

from image_service.api.fast_content import FastContentMiddleware
from image_service.bootstrap import build_app, local_context
from image_service.domain.models import Caller, utcnow
from image_service.services.keys import create_key
from image_service.services.uploads import UploadDraft, upload_images
from image_service.settings import Settings

Answer = tuple[int, list[tuple[bytes, bytes]], bytes, bool]


def png(shade: int) -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (40, 30), (shade, 90, 160)).save(buffer, "PNG")
    return buffer.getvalue()


class Apps:
    def __init__(self, data_dir: Path, cors: str = "") -> None:
        settings = Settings.with_fields(data_dir=data_dir, cors_origins=cors)
        ctx = local_context(settings)
        owner = Caller(user_id="alice")
        drafts = [
            UploadDraft(data=png(10), user_id="alice", name="pub.png", visibility="public"),
            UploadDraft(data=png(20), user_id="alice", name="priv.png", visibility="private"),
        ]
        self.ctx = ctx
        self.public, self.private = upload_images(ctx, owner, drafts)
        _, self.key = create_key(ctx.keys, "alice", is_admin=False, now=utcnow())
        self.fast = build_app(settings, ctx=ctx)
        self.slow = build_app(settings, ctx=ctx)
        self.slow.user_middleware = [
            m for m in self.slow.user_middleware if m.cls is not FastContentMiddleware
        ]
        self.loop = asyncio.new_event_loop()
        self.lifespans = contextlib.AsyncExitStack()
        for app in (self.fast, self.slow):
            self.loop.run_until_complete(self.lifespans.enter_async_context(app.router.lifespan_context(app)))

    def close(self) -> None:
        try:
            self.loop.run_until_complete(self.lifespans.aclose())
        finally:
            self.loop.close()

    def call(self, app: FastAPI, method: str, path: str, headers: dict[str, str]) -> Answer:
        path, _, query = path.partition("?")
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [
                (b"host", b"testserver"),
                *((k.lower().encode(), v.encode()) for k, v in headers.items()),
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        self.loop.run_until_complete(app(scope, receive, send))
        start, bodies = sent[0], sent[1:]
        kept = [(k, v) for k, v in start["headers"] if k not in (b"x-request-id", b"date")]
        routed = "router" in scope  # FastAPI's router ran: the request was not the fast path's
        return start["status"], sorted(kept), b"".join(m.get("body", b"") for m in bodies), routed


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Apps]:
    made = Apps(tmp_path_factory.mktemp("fast"))
    yield made
    made.close()


def cases(apps: Apps) -> list[tuple[str, str, dict[str, str]]]:
    pub, priv = apps.public.image_id, apps.private.image_id
    etag = apps.public.etag
    key = {"x-api-key": apps.key}
    return [
        ("GET", f"/images/{pub}/content", {}),
        ("HEAD", f"/images/{pub}/content", {}),
        ("GET", f"/api/v1/images/{pub}/content", {}),
        ("GET", "/pub.png", {}),
        ("HEAD", "/pub.png", {}),
        ("GET", f"/images/{pub}/content?download=true", {}),
        ("GET", f"/images/{pub}/content?download=1&v=2", {}),
        ("GET", "/pub.png?download=yes", {}),
        ("GET", f"/images/{pub}/content", {"If-None-Match": etag}),
        ("GET", f"/images/{pub}/content", {"If-None-Match": '"other"'}),
        ("GET", f"/images/{pub}/content", {"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"}),
        ("GET", f"/images/{pub}/content", {"Range": "bytes=3-20"}),
        ("GET", f"/images/{pub}/content", {"Range": "bytes=-7"}),
        ("GET", f"/images/{pub}/content", {"Range": "bytes=99999-"}),
        ("GET", f"/images/{pub}/content", {"Range": "bytes=0-1", "If-Range": etag}),
        ("GET", f"/images/{priv}/content", {}),
        ("GET", f"/images/{priv}/content", key),
        ("GET", f"/images/{priv}/content", {"Authorization": f"Bearer {apps.key}"}),
        ("GET", f"/images/{priv}/content", {"Authorization": "Bearer isk_wrong"}),
        ("GET", f"/images/{priv}/content", {"Authorization": "Basic abc"}),
        ("GET", "/priv.png", key),
        ("GET", "/priv.png", {}),
        ("GET", f"/images/{pub}/content?expires=1", {}),
        ("GET", f"/images/{pub}/content?expires=99999999999&signature=abc", {}),
        ("GET", f"/images/{priv}/content?expires=4102444800&signature=nope", {}),
        ("GET", "/images/no-such-image/content", {}),
        ("GET", f"/images/{pub}/content?w=64", {"Accept": "image/webp"}),
        ("GET", f"/images/{pub}/content?w=64", {"Accept": "image/webp"}),  # now stored
        ("GET", f"/images/{pub}/content?w=63", {}),
        # FastAPI's own: values its parsing reads, repeats, an id the route refuses, a miss.
        ("GET", f"/images/{pub}/content?download=True", {}),
        ("GET", f"/images/{pub}/content?download=maybe", {}),
        ("GET", f"/images/{pub}/content?download=1&download=0", {}),
        ("GET", f"/images/{pub}/content?expires=+5&signature=x", {}),
        ("GET", "/images/not an id!/content", {}),
        ("GET", "/no-such-name.png", {}),
        ("GET", "/health", {}),
    ]


def test_every_answer_is_the_routes_answer(apps: Apps) -> None:
    for method, path, headers in cases(apps):
        fast = apps.call(apps.fast, method, path, headers)
        slow = apps.call(apps.slow, method, path, headers)
        assert fast[:3] == slow[:3], (method, path, headers)


def signed_cases(apps: Apps) -> list[tuple[str, str, dict[str, str]]]:
    """Signed URLs of the private image: valid, valid for a download, used for a download it was
    not signed for, and expired (with a good signature)."""

    def path(download: bool, expires_in: int = 600, ago: timedelta = timedelta()) -> str:
        url = apps.ctx.urls.presign(
            apps.private, expires_in=expires_in, download=download, now=utcnow() - ago
        )
        parts = urlsplit(url)
        return f"{parts.path}?{parts.query}"

    good = path(download=False)
    return [
        ("GET", good, {}),
        ("HEAD", good, {}),
        ("GET", path(download=True), {}),
        ("GET", good.replace("download=false", "download=true"), {}),
        ("GET", path(download=False, expires_in=1, ago=timedelta(hours=1)), {}),
    ]


def accesses(apps: Apps) -> tuple[int, int]:
    for app in (apps.fast, apps.slow):  # each app counts through its own grouped counter
        app.state.context.settle_accesses()
    return tuple(apps.ctx.catalog.get(i.image_id).access_count for i in (apps.public, apps.private))  # type: ignore[return-value]


def test_signed_urls_and_counts_are_the_routes(apps: Apps) -> None:
    """The same answer for signed URLs too, and the same accesses counted (one per GET served,
    none for HEAD, 304, a refusal) for every case."""
    statuses = []
    for method, path, headers in [*signed_cases(apps), *cases(apps)]:
        before = accesses(apps)
        fast = apps.call(apps.fast, method, path, headers)
        counted_fast = [b - a for a, b in zip(before, accesses(apps), strict=True)]
        before = accesses(apps)
        slow = apps.call(apps.slow, method, path, headers)
        counted_slow = [b - a for a, b in zip(before, accesses(apps), strict=True)]
        assert fast[:3] == slow[:3], (method, path, headers)
        assert counted_fast == counted_slow, (method, path, headers)
        statuses.append(fast[0])
    assert statuses[:5] == [200, 200, 200, 403, 403]  # the signed cases: really served or refused


def test_the_hot_requests_skip_fastapi(apps: Apps) -> None:
    pub, priv = apps.public.image_id, apps.private.image_id
    hot = [
        ("GET", f"/images/{pub}/content", {}),
        ("HEAD", f"/api/v1/images/{pub}/content", {}),
        ("GET", "/pub.png", {}),
        ("GET", f"/images/{pub}/content", {"If-None-Match": apps.public.etag, "Range": "bytes=0-1"}),
        ("GET", f"/images/{priv}/content", {"x-api-key": apps.key}),
        ("GET", f"/images/{priv}/content", {}),  # 404 by id: answered here too
    ]
    for method, path, headers in hot:
        assert not apps.call(apps.fast, method, path, headers)[3], path
    unusual = [
        ("GET", f"/images/{pub}/content?download=maybe", {}),
        ("GET", f"/images/{pub}/content?expires=1&expires=2", {}),
        ("GET", "/no-such-name.png", {}),
        ("POST", f"/images/{pub}/content", {}),
        ("GET", f"/images/{pub}/content/", {}),
    ]
    for method, path, headers in unusual:
        assert apps.call(apps.fast, method, path, headers)[3], path


def test_with_cors_a_browsers_request_goes_through_the_cors_middleware(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    apps = Apps(tmp_path_factory.mktemp("fast-cors"), cors="https://app.example")
    try:
        path = f"/images/{apps.public.image_id}/content"
        for headers in ({}, {"Origin": "https://app.example"}, {"Origin": "https://other.example"}):
            fast = apps.call(apps.fast, "GET", path, headers)
            assert fast[:3] == apps.call(apps.slow, "GET", path, headers)[:3], headers
            assert fast[3] == bool(headers), headers  # with an Origin, the full stack answers
        vary = dict(apps.call(apps.fast, "GET", path, {})[1])[b"vary"]
        assert b"Origin" in vary
    finally:
        apps.close()
