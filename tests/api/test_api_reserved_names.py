"""A name that a route of the service uses can never be served at /<name>: it is refused (400)."""

from __future__ import annotations

import httpx
import pytest
from api_helpers import assert_error, b64, png
from api_server import NothingStored, Upload

pytestmark = pytest.mark.api

RESERVED = [
    "health",
    "docs",
    "redoc",
    "openapi.json",
    "images",
    "upload",
    "image",
    "api",
    "gallery",
    "favicon.ico",
    "robots.txt",
]


@pytest.mark.parametrize("name", RESERVED)
def test_upload_with_a_reserved_name_is_400(
    alice: httpx.Client, nothing_stored: NothingStored, name: str
) -> None:
    with nothing_stored():
        message = assert_error(alice.post("/images", json={"image_data": b64(png()), "name": name}), 400)
        assert_error(alice.post("/images", data={"name": name}, files={"file": ("a.png", png())}), 400)
        start = {"filename": "a.png", "content_type": "image/png", "size": 100, "name": name}
        assert_error(alice.post("/images/uploads", json=start), 400)
    assert "reserved" in message


@pytest.mark.parametrize("name", RESERVED)
def test_renaming_to_a_reserved_name_is_400(alice: httpx.Client, upload: Upload, name: str) -> None:
    meta = upload(alice)
    assert_error(alice.patch(f"/images/{meta['image_id']}", json={"name": name}), 400)
    assert alice.get(f"/images/{meta['image_id']}").json()["metadata"]["name"] == meta["name"]


def test_a_name_that_only_starts_like_a_route_is_fine(alice: httpx.Client, upload: Upload) -> None:
    # Exact names, once per server: routes are case-sensitive, so /Health reaches /{name}.
    for name in ("health.png", "docs2", "images-of-cats.jpg", "Health"):
        upload(alice, name=name)
        assert alice.get(f"/{name}").status_code == 200
