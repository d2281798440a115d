"""Image bytes by id and by name: caching headers, conditional and range requests, access counts."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from email.message import Message
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import httpx
import pytest
from api_helpers import assert_error, b64, jpeg, parse_iso, png, unique
from api_server import Server, Upload

pytestmark = pytest.mark.api


@pytest.fixture(scope="module")
def stored(alice: httpx.Client, upload: Upload) -> tuple[dict[str, Any], bytes]:
    data = jpeg(64, 48)
    meta = upload(alice, data, name=f"{unique('photo')}.jpg", filename="photo.jpg")
    return meta, data


def paths(meta: dict[str, Any]) -> list[str]:
    return [f"/images/{meta['image_id']}/content", f"/{meta['name']}"]


def access(admin: httpx.Client, image_id: str) -> tuple[int, str | None]:
    metadata = admin.get(f"/images/{image_id}").json()["metadata"]
    return metadata["access_count"], metadata["last_accessed_at"]


@pytest.mark.parametrize("by", ["id", "name"])
def test_content_headers(anon: httpx.Client, stored: tuple[dict[str, Any], bytes], by: str) -> None:
    meta, data = stored
    response = anon.get(paths(meta)[0 if by == "id" else 1])
    assert response.status_code == 200, response.text
    assert response.content == data
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["content-length"] == str(len(data))
    assert response.headers["accept-ranges"] == "bytes"
    etag = response.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"') and len(etag) > 2
    modified = parsedate_to_datetime(response.headers["last-modified"])
    assert abs((modified - parse_iso(meta["created_at"])).total_seconds()) < 1
    assert "max-age" in response.headers["cache-control"]
    assert response.headers.get("x-content-type-options") == "nosniff"


def test_private_content_is_not_publicly_cacheable(alice: httpx.Client, upload: Upload) -> None:
    meta = upload(alice, visibility="private")
    for path in paths(meta):
        response = alice.get(path)
        assert response.status_code == 200
        assert "private" in response.headers["cache-control"]
        assert "public" not in response.headers["cache-control"]


def test_if_none_match_gives_304(anon: httpx.Client, stored: tuple[dict[str, Any], bytes]) -> None:
    meta, _ = stored
    for path in paths(meta):
        etag = anon.get(path).headers["etag"]
        for header in (etag, f"W/{etag}", f'"nope", {etag}', "*"):
            response = anon.get(path, headers={"If-None-Match": header})
            assert response.status_code == 304, header
            assert response.content == b""
            assert response.headers["etag"] == etag
        assert anon.get(path, headers={"If-None-Match": '"something-else"'}).status_code == 200


def test_if_modified_since_gives_304(anon: httpx.Client, stored: tuple[dict[str, Any], bytes]) -> None:
    meta, data = stored
    for path in paths(meta):
        first = anon.get(path)
        last_modified = first.headers["last-modified"]
        modified = parsedate_to_datetime(last_modified)
        later = format_datetime(modified + timedelta(days=1), usegmt=True)
        for since in (last_modified, later):
            response = anon.get(path, headers={"If-Modified-Since": since})
            assert response.status_code == 304, since
            assert response.content == b""
            assert response.headers["etag"] == first.headers["etag"]
        earlier = format_datetime(modified - timedelta(seconds=1), usegmt=True)
        for since in (earlier, "not a date"):
            response = anon.get(path, headers={"If-Modified-Since": since})
            assert response.status_code == 200, since
            assert response.content == data
        # If-None-Match decides when both are sent (RFC 9110 13.2.2).
        both = {"If-None-Match": '"something-else"', "If-Modified-Since": later}
        assert anon.get(path, headers=both).status_code == 200


def test_if_range_with_a_stale_validator_gives_the_whole_body(
    anon: httpx.Client, stored: tuple[dict[str, Any], bytes]
) -> None:
    meta, data = stored
    for path in paths(meta):
        first = anon.get(path)
        etag, last_modified = first.headers["etag"], first.headers["last-modified"]
        for current in (etag, last_modified):
            response = anon.get(path, headers={"Range": "bytes=0-9", "If-Range": current})
            assert response.status_code == 206, current
            assert response.content == data[:10]
        stale_date = format_datetime(parsedate_to_datetime(last_modified) - timedelta(days=1), usegmt=True)
        for stale in ('"an-older-version"', f"W/{etag}", stale_date, "garbage"):
            response = anon.get(path, headers={"Range": "bytes=0-9", "If-Range": stale})
            assert response.status_code == 200, stale
            assert response.content == data
            assert "content-range" not in response.headers


def test_range_requests(anon: httpx.Client, stored: tuple[dict[str, Any], bytes]) -> None:
    meta, data = stored
    size = len(data)
    for path in paths(meta):
        cases = {
            "bytes=0-9": (data[:10], f"bytes 0-9/{size}"),
            "bytes=-5": (data[-5:], f"bytes {size - 5}-{size - 1}/{size}"),
            "bytes=10-": (data[10:], f"bytes 10-{size - 1}/{size}"),
            f"bytes={size - 3}-{size + 100}": (data[-3:], f"bytes {size - 3}-{size - 1}/{size}"),
        }
        for header, (body, content_range) in cases.items():
            response = anon.get(path, headers={"Range": header})
            assert response.status_code == 206, header
            assert response.content == body, header
            assert response.headers["content-range"] == content_range
            assert response.headers["content-length"] == str(len(body))
            assert response.headers["content-type"] == "image/jpeg"


def test_unsatisfiable_range_is_416(anon: httpx.Client, stored: tuple[dict[str, Any], bytes]) -> None:
    meta, data = stored
    for path in paths(meta):
        for header in (f"bytes={len(data)}-", f"bytes={len(data) + 10}-{len(data) + 20}", "bytes=-0"):
            response = anon.get(path, headers={"Range": header})
            assert response.status_code == 416, header
            assert response.headers["content-range"] == f"bytes */{len(data)}"
            assert "error" in response.json()


def test_head(anon: httpx.Client, stored: tuple[dict[str, Any], bytes]) -> None:
    meta, data = stored
    for path in paths(meta):
        response = anon.head(path)
        assert response.status_code == 200
        assert response.content == b""
        assert response.headers["content-length"] == str(len(data))
        assert response.headers["content-type"] == "image/jpeg"
        assert response.headers["etag"] == anon.get(path).headers["etag"]
        assert response.headers["accept-ranges"] == "bytes"


def test_download_param_on_content(anon: httpx.Client, stored: tuple[dict[str, Any], bytes]) -> None:
    meta, _ = stored
    for path in paths(meta):
        response = anon.get(path, params={"download": "true"})
        assert response.headers["content-disposition"] == 'attachment; filename="photo.jpg"'
        assert "attachment" not in anon.get(path).headers.get("content-disposition", "")


def test_each_get_counts_exactly_one_access(anon: httpx.Client, admin: httpx.Client, upload: Upload) -> None:
    meta = upload(admin, png(30, 30), name=f"{unique('count')}.png")
    assert access(admin, meta["image_id"]) == (0, None)
    by_id, by_name = paths(meta)
    assert anon.get(by_id).status_code == 200
    count, last = access(admin, meta["image_id"])
    assert count == 1 and last is not None and last.endswith("Z")
    assert parse_iso(last) >= parse_iso(meta["created_at"])
    assert anon.get(by_name).status_code == 200
    assert anon.get(by_id, headers={"Range": "bytes=0-3"}).status_code == 206
    assert access(admin, meta["image_id"])[0] == 3
    # Viewing the metadata is not an access of the bytes.
    assert access(admin, meta["image_id"])[0] == 3


def test_concurrent_gets_are_all_counted(server: Server, admin: httpx.Client, upload: Upload) -> None:
    meta = upload(admin, png(20, 20))
    before, _ = access(admin, meta["image_id"])
    start = threading.Barrier(10)

    def fetch_five(_: int) -> list[int]:
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            start.wait()
            return [client.get(f"/images/{meta['image_id']}/content").status_code for _ in range(5)]

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = [s for batch in pool.map(fetch_five, range(10)) for s in batch]
    assert statuses == [200] * 50
    assert access(admin, meta["image_id"])[0] == before + 50


def test_service_routes_are_not_shadowed_by_names(anon: httpx.Client, admin: httpx.Client) -> None:
    # Images cannot be named like the service routes (API.md: such a name is 400), and the
    # routes answer as themselves.
    for name in ("health", "docs", "openapi.json"):
        created = admin.post("/images", json={"image_data": b64(png()), "name": name})
        assert_error(created, 400)
    health = anon.get("/health")
    assert health.status_code == 200 and health.json()["status"] == "healthy"
    docs = anon.get("/docs")
    assert docs.status_code == 200 and docs.headers["content-type"].startswith("text/html")
    openapi = anon.get("/openapi.json")
    assert openapi.status_code == 200 and "openapi" in openapi.json()


@pytest.mark.parametrize("path", ["/no-such-image.png", "/favicon.ico", "/.hidden", "/a..b~"])
def test_unknown_name_is_404_json(anon: httpx.Client, path: str) -> None:
    assert_error(anon.get(path), 404)


def test_names_are_served_exactly(anon: httpx.Client, alice: httpx.Client, upload: Upload) -> None:
    name = f"{unique('Case')}.png"
    data = png()
    upload(alice, data, name=name)
    assert anon.get(f"/{name}").content == data
    assert_error(anon.get(f"/{name.lower()}"), 404)


def test_content_disposition_parses_with_the_stdlib(
    anon: httpx.Client, alice: httpx.Client, upload: Upload
) -> None:
    meta = upload(alice, filename="plain name.png")
    header = anon.get(f"/images/{meta['image_id']}/content", params={"download": "true"}).headers[
        "content-disposition"
    ]
    message = Message()
    message["content-disposition"] = header
    assert message.get_content_disposition() == "attachment"
    assert message.get_filename() == "plain name.png"
