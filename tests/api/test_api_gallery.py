"""The gallery's routes over HTTP: `/` is the HTML page with a strict Content-Security-Policy and
no inline script, its assets answer with their types and ETags, and `/gallery/me` says whose key
the page holds. The page itself is driven in a browser by tests/e2e/test_gallery.py."""

from __future__ import annotations

import re

import httpx
import pytest
from api_helpers import assert_error
from api_server import Server

pytestmark = pytest.mark.api

ASSETS = {
    "app.js": "text/javascript; charset=utf-8",
    "api.js": "text/javascript; charset=utf-8",
    "grid.js": "text/javascript; charset=utf-8",
    "viewer.js": "text/javascript; charset=utf-8",
    "upload.js": "text/javascript; charset=utf-8",
    "gallery.css": "text/css; charset=utf-8",
    "icon.svg": "image/svg+xml",
}


def test_the_page_is_html_with_a_strict_policy(anon: httpx.Client, server: Server) -> None:
    page = anon.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    policy = dict(part.strip().split(" ", 1) for part in page.headers["content-security-policy"].split(";"))
    assert policy["default-src"] == "'none'" and policy["script-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    if server.backend == "aws":  # full-size images, signed links and direct uploads are S3's
        s3 = server.env["AWS_ENDPOINT_URL_S3"].rstrip("/")
        assert policy["img-src"] == f"'self' {s3}" and policy["connect-src"] == f"'self' {s3}"
        assert '<meta name="signed-by" content="s3">' in page.text  # the page warns of expiring links
    else:
        assert policy["img-src"] == "'self'" and policy["connect-src"] == "'self'"
        assert '<meta name="signed-by" content="service">' in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    html = page.text
    assert "{{" not in html
    # Every script is a file of ours: no inline script, nothing from another origin.
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert scripts and all('src="/gallery/' in attrs and not body.strip() for attrs, body in scripts)
    assert "http://" not in html.replace(server.base_url, "") and "https://" not in html
    assert re.search(r'<meta name="inline-limit" content="10485760">', html)
    head = anon.head("/")
    assert head.status_code == 200 and head.content == b""


@pytest.mark.parametrize(("asset", "media_type"), ASSETS.items())
def test_assets_answer_with_their_types_and_etags(anon: httpx.Client, asset: str, media_type: str) -> None:
    reply = anon.get(f"/gallery/{asset}")
    assert reply.status_code == 200
    assert reply.headers["content-type"] == media_type
    assert reply.headers["x-content-type-options"] == "nosniff"
    etag = reply.headers["etag"]
    again = anon.get(f"/gallery/{asset}", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["etag"] == etag


def test_the_page_names_only_assets_that_exist(anon: httpx.Client) -> None:
    html = anon.get("/").text
    named = set(re.findall(r'"/gallery/([^"]+)"', html))
    for module in ("app.js", "grid.js", "upload.js", "viewer.js"):
        named |= set(re.findall(r'from "\./([^"]+)"', anon.get(f"/gallery/{module}").text))
    assert named <= set(ASSETS) and {"app.js", "gallery.css"} <= named


@pytest.mark.parametrize("name", ["index.html", "missing.js", "..%2Fapp.py", "app.JS"])
def test_anything_else_under_gallery_is_404(anon: httpx.Client, name: str) -> None:
    assert_error(anon.get(f"/gallery/{name}"), 404)


def test_me_names_the_keys_user(alice: httpx.Client, anon: httpx.Client, server: Server) -> None:
    assert alice.get("/gallery/me").json() == {"user_id": "alice", "is_admin": False, "auth": "api-key"}
    assert anon.get("/gallery/me").json() == {"user_id": None, "is_admin": False, "auth": "api-key"}
    assert_error(server.client("isk_not_a_key").get("/gallery/me"), 401)


def test_without_keys_the_page_names_the_declared_user(open_server: Server) -> None:
    """IMAGE_SERVICE_AUTH=none: the page asks for a user id and sends it as X-User-Id."""
    client = open_server.client()
    assert re.search(r'<meta name="auth-mode" content="none">', client.get("/").text)
    me = client.get("/gallery/me", headers={"X-User-Id": "carol"}).json()
    assert me == {"user_id": "carol", "is_admin": False, "auth": "none"}
