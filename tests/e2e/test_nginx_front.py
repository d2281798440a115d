"""Debian's nginx in front of a real `image-service serve` with IMAGE_SERVICE_ACCEL_REDIRECT, run
with the configuration the docs ship (docs/nginx/image-service.conf): nginx sends the files, and
every rule of the content routes still holds as clients see them through it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import httpx
import pytest
from api_helpers import assert_error, noise_png, unique, upload_image
from api_server import Server, start_server

from image_service.adapters.filesystem_blobs import FilesystemBlobStore
from image_service.devtools.nginx_front import find_nginx, nginx_front

pytestmark = pytest.mark.api

ACCEL = "/_accel/"
# The headers the service sets on content, which must reach the client through nginx unchanged.
CONTENT_HEADERS = (
    "content-type",
    "etag",
    "last-modified",
    "cache-control",
    "content-disposition",
    "x-content-type-options",
)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory, "accel", "local", IMAGE_SERVICE_ACCEL_REDIRECT=ACCEL)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def front(service: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """nginx's base URL, in front of ``service``."""
    binary = find_nginx()
    if binary is None:
        message = "needs Debian's nginx (`apt-get install nginx-light`; .ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs it: a missing nginx there is a broken CI, not a skip
        pytest.skip(message)
    port = service.base_url.rsplit(":", 1)[1]
    root = tmp_path_factory.mktemp("nginx") / "front"
    with nginx_front(binary, root, upstream_port=int(port), blobs=service.data_dir / "blobs") as front_port:
        yield f"http://127.0.0.1:{front_port}"


@pytest.fixture(scope="module")
def alice(service: Server) -> httpx.Client:
    return service.client(service.create_key("alice"))


@pytest.fixture(scope="module")
def admin(service: Server) -> httpx.Client:
    assert service.admin_key
    return service.client(service.admin_key)


@pytest.fixture(scope="module")
def through(front: str) -> Iterator[httpx.Client]:
    """An anonymous client of nginx."""
    with httpx.Client(base_url=front, timeout=30.0) as client:
        yield client


@pytest.fixture(scope="module")
def public(alice: httpx.Client) -> tuple[dict[str, Any], bytes]:
    data = noise_png(64, 64)
    meta = upload_image(alice, data, name=f"{unique('front')}.png", filename="front.png", visibility="public")
    return meta, data


def paths(meta: dict[str, Any]) -> list[str]:
    return [
        f"/images/{meta['image_id']}/content",
        f"/{meta['name']}",
        f"/api/v1/images/{meta['image_id']}/content",
    ]


def test_the_bytes_come_from_nginx_with_the_services_headers(
    through: httpx.Client, service: Server, public: tuple[dict[str, Any], bytes]
) -> None:
    meta, data = public
    for path in paths(meta):
        response = through.get(path)
        assert response.status_code == 200, response.text
        assert response.content == data
        assert response.headers["server"].startswith("nginx")
        assert "x-accel-redirect" not in response.headers
        assert response.headers["content-length"] == str(len(data))
        assert response.headers.get_list("accept-ranges") == ["bytes"]
        assert len(response.headers.get_list("x-request-id")) == 1
        direct = httpx.head(service.base_url + path)
        for name in CONTENT_HEADERS:
            assert response.headers.get_list(name) == direct.headers.get_list(name), name


def test_the_service_answers_with_headers_only(service: Server, public: tuple[dict[str, Any], bytes]) -> None:
    """What nginx receives: no body, and the file's path under the internal location."""
    meta, _ = public
    response = httpx.get(f"{service.base_url}/images/{meta['image_id']}/content")
    assert response.status_code == 200 and response.content == b""
    ref = FilesystemBlobStore(service.data_dir / "blobs").ref(meta["s3_key"])
    assert response.headers["x-accel-redirect"] == ACCEL + ref


def test_ranges(through: httpx.Client, public: tuple[dict[str, Any], bytes]) -> None:
    meta, data = public
    size = len(data)
    path = paths(meta)[0]
    for header, status, body, content_range in (
        ("bytes=2-9", 206, data[2:10], f"bytes 2-9/{size}"),
        ("bytes=-5", 206, data[-5:], f"bytes {size - 5}-{size - 1}/{size}"),
        (f"bytes={size - 3}-", 206, data[-3:], f"bytes {size - 3}-{size - 1}/{size}"),
        (f"bytes=10-{size + 100}", 206, data[10:], f"bytes 10-{size - 1}/{size}"),
        ("bytes=0-1,5-6", 200, data, None),  # several ranges: the whole image, as without nginx
        ("items=0-1", 200, data, None),  # another unit: ignored
    ):
        response = through.get(path, headers={"Range": header})
        assert response.status_code == status, header
        assert response.content == body, header
        assert response.headers.get("content-range") == content_range, header
    unsatisfiable = through.get(path, headers={"Range": f"bytes={size}-"})
    assert_error(unsatisfiable, 416)
    assert unsatisfiable.headers["content-range"] == f"bytes */{size}"


def test_if_range_is_judged_by_the_services_validators(
    through: httpx.Client, public: tuple[dict[str, Any], bytes]
) -> None:
    meta, data = public
    path = paths(meta)[0]
    etag = through.head(path).headers["etag"]
    current = through.get(path, headers={"Range": "bytes=0-3", "If-Range": etag})
    assert (current.status_code, current.content) == (206, data[:4])
    stale = through.get(path, headers={"Range": "bytes=0-3", "If-Range": '"an-older-one"'})
    assert (stale.status_code, stale.content) == (200, data)


def test_conditional_gets_give_304(through: httpx.Client, public: tuple[dict[str, Any], bytes]) -> None:
    meta, data = public
    for path in paths(meta):
        first = through.get(path)
        etag, last_modified = first.headers["etag"], first.headers["last-modified"]
        for headers in ({"If-None-Match": etag}, {"If-Modified-Since": last_modified}):
            response = through.get(path, headers=headers)
            assert response.status_code == 304, headers
            assert response.content == b"" and response.headers["etag"] == etag
        later = format_datetime(parsedate_to_datetime(last_modified) - timedelta(days=1), usegmt=True)
        for headers in ({"If-None-Match": '"other"'}, {"If-Modified-Since": later}):
            response = through.get(path, headers=headers)
            assert (response.status_code, response.content) == (200, data), headers


def test_head(through: httpx.Client, public: tuple[dict[str, Any], bytes]) -> None:
    meta, data = public
    for path in paths(meta):
        response = through.head(path)
        assert response.status_code == 200 and response.content == b""
        assert response.headers["content-length"] == str(len(data))
        assert response.headers["etag"] == through.get(path).headers["etag"]


def test_private_images_stay_private(
    through: httpx.Client, front: str, alice: httpx.Client, service: Server
) -> None:
    data = noise_png(16, 16)
    meta = upload_image(alice, data, name=f"{unique('secret')}.png", visibility="private")
    for path in paths(meta):
        assert_error(through.get(path), 404)
        response = httpx.get(front + path, headers=dict(alice.headers))
        assert (response.status_code, response.content) == (200, data)
        assert "private" in response.headers["cache-control"]


def test_signed_urls(through: httpx.Client, front: str, alice: httpx.Client, service: Server) -> None:
    data = noise_png(16, 16)
    meta = upload_image(alice, data, visibility="private")
    with httpx.Client(base_url=front, headers=dict(alice.headers), timeout=30.0) as owner:
        url = owner.get(f"/images/{meta['image_id']}", params={"expires_in": 60}).json()["url"]
    assert url.startswith(front + "/images/"), url  # made absolute from nginx's Host, port included
    response = httpx.get(url)
    assert (response.status_code, response.content) == (200, data)
    assert_error(httpx.get(url.replace("signature=", "signature=0")), 403)


def test_each_get_through_nginx_counts_one_access(
    through: httpx.Client, admin: httpx.Client, alice: httpx.Client
) -> None:
    meta = upload_image(alice, noise_png(16, 16), name=f"{unique('counted')}.png", visibility="public")
    path = paths(meta)
    gets = [through.get(path[i % 3]) for i in range(9)]
    assert all(r.status_code == 200 for r in gets)
    assert through.head(path[0]).status_code == 200  # HEAD and 304 are no accesses
    assert through.get(path[0], headers={"If-None-Match": gets[0].headers["etag"]}).status_code == 304
    assert admin.get(f"/images/{meta['image_id']}").json()["metadata"]["access_count"] == 9


def test_renditions_come_from_nginx_too(through: httpx.Client, public: tuple[dict[str, Any], bytes]) -> None:
    meta, _ = public
    path = paths(meta)[0]
    made = through.get(path, params={"w": 64}, headers={"Accept": "image/webp"})  # the first makes it
    stored = through.get(path, params={"w": 64}, headers={"Accept": "image/webp"})
    for response in (made, stored):
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/webp"
        assert response.headers["vary"] == "Accept"
        assert response.content[:4] == b"RIFF" and response.content[8:12] == b"WEBP"
    assert made.content == stored.content and made.headers["etag"] == stored.headers["etag"]
    again = through.get(
        path, params={"w": 64}, headers={"If-None-Match": stored.headers["etag"], "Accept": "image/webp"}
    )
    assert again.status_code == 304


def test_the_internal_location_cannot_be_reached_from_outside(
    through: httpx.Client, service: Server, public: tuple[dict[str, Any], bytes]
) -> None:
    meta, _ = public
    ref = FilesystemBlobStore(service.data_dir / "blobs").ref(meta["s3_key"])
    assert (service.data_dir / "blobs" / ref).is_file()  # the file is there: the 404 is nginx's rule
    for path in (ACCEL + ref, ACCEL, ACCEL.rstrip("/") + "/../" + ref, "/_accel%2F" + ref):
        response = through.get(path)
        assert response.status_code == 404, path
        assert response.content != public[1]
    # A client's own X-Accel-Redirect request header means nothing.
    response = through.get("/health", headers={"X-Accel-Redirect": ACCEL + ref})
    assert response.status_code == 200 and response.json()["status"] == "healthy"


def test_a_file_nginx_cannot_open_is_a_json_500(
    through: httpx.Client, alice: httpx.Client, service: Server
) -> None:
    meta = upload_image(
        alice, noise_png(8, 8), name=f"{unique('gone')}.png", filename="g.png", visibility="public"
    )
    blob = service.data_dir / "blobs" / FilesystemBlobStore(service.data_dir / "blobs").ref(meta["s3_key"])
    blob.rename(blob.with_name(blob.name + ".away"))  # as a file lost, or one nginx may not read
    try:
        response = through.get(f"/images/{meta['image_id']}/content")
    finally:
        blob.with_name(blob.name + ".away").rename(blob)
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"error": "the image file could not be read"}
    assert through.get(f"/images/{meta['image_id']}/content").status_code == 200  # back in place
