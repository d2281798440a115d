"""A page of another origin calls the API with fetch() and an API key: Chromium lets it when the
server's IMAGE_SERVICE_CORS_ORIGINS names the page's origin, and blocks it otherwise.

The pages come from small http.servers on other 127.0.0.1 ports (another port is another origin).
CORS is the app's, the same on either backend: this server runs on local only.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from api_helpers import b64, png, unique
from api_server import Server, start_server
from playwright.sync_api import Page

pytestmark = pytest.mark.e2e

# Runs in the page: the API's answer as a script sees it, or the error fetch() rejects with.
CALL = """async ({url, key, body}) => {
  try {
    const init = {headers: {"x-api-key": key}};
    if (body !== null) {
      init.method = "POST";
      init.headers["content-type"] = "application/json";
      init.headers["Idempotency-Key"] = crypto.randomUUID();
      init.body = JSON.stringify(body);
    }
    const response = await fetch(url, init);
    return {status: response.status, json: await response.json(),
            requestId: response.headers.get("x-request-id")};
  } catch (error) {
    return {error: String(error)};
  }
}"""


class Site:
    """A static page on its own origin."""

    def __init__(self, root: Path) -> None:
        (root / "index.html").write_text("<!doctype html><title>another origin</title><p>hello</p>")
        handler = partial(SimpleHTTPRequestHandler, directory=str(root))
        handler.log_message = lambda *args: None  # type: ignore[attr-defined]
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, Site]]:
    allowed, other = Site(tmp_path_factory.mktemp("allowed")), Site(tmp_path_factory.mktemp("other"))
    yield allowed, other
    allowed.close()
    other.close()


@pytest.fixture(scope="module")
def cors_server(tmp_path_factory: pytest.TempPathFactory, sites: tuple[Site, Site]) -> Iterator[Server]:
    allowed, _ = sites
    srv = start_server(tmp_path_factory, "browser-cors", "local", IMAGE_SERVICE_CORS_ORIGINS=allowed.origin)
    yield srv
    srv.stop()


def call(page: Page, site: Site, url: str, key: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    page.goto(f"{site.origin}/index.html")
    result: dict[str, Any] = page.evaluate(CALL, {"url": url, "key": key, "body": body})
    return result


def test_a_page_of_an_allowed_origin_calls_the_api_with_its_key(
    cors_server: Server, sites: tuple[Site, Site], page: Page
) -> None:
    allowed, _ = sites
    assert cors_server.admin_key
    name = f"{unique('from-browser')}.png"
    body = {"image_data": b64(png(12, 8)), "name": name}
    created = call(page, allowed, f"{cors_server.base_url}/images", cors_server.admin_key, body)
    assert created.get("status") == 201, created  # preflighted: a JSON body, a key, Idempotency-Key
    assert created["json"]["metadata"]["name"] == name
    assert created["requestId"], "an exposed header is readable"
    listed = call(page, allowed, f"{cors_server.base_url}/images?limit=5", cors_server.admin_key)
    assert listed.get("status") == 200, listed
    assert name in {image["name"] for image in listed["json"]["images"]}


def test_a_page_of_another_origin_is_blocked(
    cors_server: Server, sites: tuple[Site, Site], page: Page
) -> None:
    _, other = sites
    assert cors_server.admin_key
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    result = call(page, other, f"{cors_server.base_url}/images?limit=5", cors_server.admin_key)
    assert "error" in result and "Failed to fetch" in result["error"], result
    page.wait_for_timeout(200)
    assert any("CORS policy" in m for m in messages), messages
