"""What a person's browser sees: images render by name, signed URLs work without credentials,
private images stay hidden, and downloads get the uploaded file name (RFC 6266, Unicode).
On aws the signed URLs are S3's (moto here), so the browser fetches from S3 directly."""

from __future__ import annotations

import httpx
import pytest
from api_helpers import png, unique, upload_image
from api_server import MOTO_SIGNATURES, Server
from playwright.sync_api import Page

pytestmark = pytest.mark.e2e


def upload(server: Server, key: str, *, filename: str, visibility: str = "public", **fields: str) -> dict:
    """A 40x30 PNG as a form upload."""
    return upload_image(server.client(key), png(40, 30), multipart=filename, visibility=visibility, **fields)


def natural_size(page: Page) -> tuple[int, int]:
    page.wait_for_function("document.images.length === 1 && document.images[0].complete")
    width, height = page.evaluate("[document.images[0].naturalWidth, document.images[0].naturalHeight]")
    return int(width), int(height)


def test_an_image_renders_by_its_name(server: Server, page: Page) -> None:
    assert server.admin_key
    meta = upload(server, server.admin_key, filename="cat.png", name=f"{unique('cat')}.png")
    response = page.goto(f"{server.base_url}/{meta['name']}")
    assert response is not None and response.status == 200
    assert response.headers["content-type"] == "image/png"
    assert natural_size(page) == (40, 30)


def test_a_private_image_shows_only_through_its_signed_url(server: Server, page: Page) -> None:
    assert server.admin_key
    meta = upload(server, server.admin_key, filename="secret.png", visibility="private")
    hidden = page.goto(f"{server.base_url}/images/{meta['image_id']}/content")
    assert hidden is not None and hidden.status == 404
    signed = server.client(server.admin_key).get(f"/images/{meta['image_id']}").json()["url"]
    response = page.goto(signed)
    assert response is not None and response.status == 200
    assert natural_size(page) == (40, 30)


@pytest.mark.only_backend("local", reason=MOTO_SIGNATURES)
def test_a_tampered_signed_url_shows_nothing(server: Server, page: Page) -> None:
    assert server.admin_key
    meta = upload(server, server.admin_key, filename="secret.png", visibility="private")
    signed = server.client(server.admin_key).get(f"/images/{meta['image_id']}").json()["url"]
    tampered = page.goto(signed.replace("signature=", "signature=x"))
    assert tampered is not None and tampered.status == 403


def test_a_download_keeps_the_uploaded_unicode_file_name(server: Server, page: Page) -> None:
    assert server.admin_key
    filename = 'naïve "cat" ünïcode.png'
    meta = upload(server, server.admin_key, filename=filename)
    view = httpx.get(f"{server.base_url}/images/{meta['image_id']}", params={"download": "true"})
    url = view.json()["url"]
    page.set_content(f'<a id="get" href="{url}">download</a>')
    with page.expect_download() as info:
        page.click("#get")
    download = info.value
    # Chromium reads filename* (UTF-8); it may still swap characters its file system dislikes.
    suggested = download.suggested_filename
    assert suggested.startswith("naïve") and "cat" in suggested and "ünïcode" in suggested
    assert suggested.endswith(".png")
    path = download.path()
    assert path.read_bytes() == server.client().get(f"/images/{meta['image_id']}/content").content
