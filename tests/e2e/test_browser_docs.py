"""The docs pages in a browser that can reach nothing but this machine: every request to another
host is aborted and recorded, and a test fails if there was one (or if a request failed, or an
answer was an error). Swagger UI renders the
operations, "Authorize" takes an API key and "Try it out" calls the API with it; Redoc renders.

The pages are the app's, the same on either backend: they run on local only.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from api_helpers import b64, png
from api_server import Server
from playwright.sync_api import Page, Route, expect

pytestmark = [pytest.mark.e2e, pytest.mark.only_backend("local", reason="the docs pages are the app's")]

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


@pytest.fixture
def offline_page(page: Page) -> Iterator[Page]:
    """The page with every non-local request aborted; fails the test if any was made."""
    blocked: list[str] = []

    def only_local(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).scheme in ("data", "blob") or urlsplit(url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    page.context.route("**/*", only_local)
    failed: list[str] = []
    # Redoc's sidebar asks a CDN for its vendor's logo whatever its options: the page's
    # Content-Security-Policy refuses it inside the browser, before any request is made.
    page.on(
        "requestfailed",
        lambda r: None if r.failure == "csp" else failed.append(f"{r.url}: {r.failure}"),
    )
    missing: list[str] = []
    page.on("response", lambda r: missing.append(f"{r.url}: {r.status}") if r.status >= 400 else None)
    yield page
    assert not blocked, f"the page reached for the network: {blocked}"
    assert not failed, failed
    assert not missing, missing


def open_operation(page: Page, tag: str, operation_id: str) -> None:
    operation = page.locator(f"#operations-{tag}-{operation_id}")
    operation.locator(".opblock-summary").first.click()
    operation.locator(".try-out__btn").click()


def execute(page: Page, tag: str, operation_id: str) -> str:
    """Click Execute and answer the status shown in the live response panel."""
    operation = page.locator(f"#operations-{tag}-{operation_id}")
    operation.locator("button.execute").click()
    status = operation.locator(".live-responses-table .response .response-col_status").first
    expect(status).to_be_visible(timeout=15_000)
    return status.inner_text().strip()


def test_swagger_ui_works_offline_with_an_api_key(server: Server, offline_page: Page) -> None:
    page = offline_page
    assert server.admin_key
    image = httpx.post(
        f"{server.base_url}/images",
        json={"image_data": b64(png()), "visibility": "private"},
        headers={"x-api-key": server.admin_key},
    ).json()["image_id"]
    sent_keys: list[str | None] = []
    page.on("request", lambda r: sent_keys.append(r.headers.get("x-api-key")) if "/images" in r.url else None)

    response = page.goto(f"{server.base_url}/docs")
    assert response is not None and response.status == 200
    expect(page.locator("#operations-images-listImages")).to_be_visible(timeout=15_000)
    expect(page.locator("#operations-images-uploadImages")).to_be_visible()

    page.locator(".auth-wrapper .btn.authorize").click()
    dialog = page.locator(".dialog-ux")
    api_key = dialog.locator(".auth-container").filter(has_text="ApiKey")
    api_key.locator("input").fill(server.admin_key)
    api_key.locator("button.authorize").click()
    expect(api_key.locator("h6")).to_have_text("Authorized")
    api_key.locator("button.btn-done").click()

    open_operation(page, "images", "listImages")
    assert execute(page, "images", "listImages") == "200"

    # A write: without the key it would be 401.
    open_operation(page, "images", "deleteImage")
    page.locator("#operations-images-deleteImage tr[data-param-name='image_id'] input").fill(image)
    assert execute(page, "images", "deleteImage") == "200"
    assert sent_keys and all(key == server.admin_key for key in sent_keys), sent_keys
    gone = httpx.get(f"{server.base_url}/images/{image}", headers={"x-api-key": server.admin_key})
    assert gone.status_code == 404


def test_redoc_renders_offline(server: Server, offline_page: Page) -> None:
    page = offline_page
    response = page.goto(f"{server.base_url}/redoc")
    assert response is not None and response.status == 200
    section = page.locator("[data-section-id='tag/images/operation/listImages']")
    expect(section).to_be_visible(timeout=20_000)
    expect(section.locator("h2")).to_contain_text("List images")
