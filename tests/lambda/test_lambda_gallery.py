"""The gallery page through the Lambda handler: the page and its assets come back as text, name
them under the API Gateway base path, tell the page the function's inline limit (so that larger
files take the direct-upload flow), and allow S3 in the page's Content-Security-Policy."""

from __future__ import annotations

import re

from apigw import LambdaClient, Version
from lambda_helpers import Stack

from image_service.bootstrap import LAMBDA_MAX_INLINE


def meta(html: str, name: str) -> str:
    found = re.search(rf'<meta name="{name}" content="([^"]*)">', html)
    assert found, html[:2000]
    return found.group(1)


def test_the_page_and_its_assets_are_text(anon: LambdaClient, stack: Stack) -> None:
    page = anon.get("/")
    assert page.status == 200 and page.is_base64 is False
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert int(meta(page.text, "inline-limit")) == LAMBDA_MAX_INLINE
    policy = page.headers["content-security-policy"]
    s3 = stack.resources.env()["AWS_ENDPOINT_URL_S3"].rstrip("/")
    assert f"img-src 'self' {s3};" in policy and f"connect-src 'self' {s3};" in policy
    assert meta(page.text, "signed-by") == "s3"  # links die with the role's credentials: said so
    assert "script-src 'self';" in policy and "unsafe" not in policy
    for asset, kind in (("app.js", "text/javascript"), ("gallery.css", "text/css")):
        assert f'"/gallery/{asset}"' in page.text
        reply = anon.get(f"/gallery/{asset}")
        assert reply.status == 200 and reply.is_base64 is False, asset
        assert reply.headers["content-type"].startswith(kind)
        again = anon.get(f"/gallery/{asset}", headers={"If-None-Match": reply.headers["etag"]})
        assert again.status == 304


def test_the_page_behind_a_base_path(stack: Stack, version: Version) -> None:
    client = stack.client(version, handler=stack.handler_with(IMAGE_SERVICE_BASE_PATH="/v1"))
    page = client.get("/v1/")
    assert page.status == 200
    assert meta(page.text, "api-root") == "/v1"
    assert '"/v1/gallery/app.js"' in page.text and '"/v1/gallery/gallery.css"' in page.text
    assert client.get("/v1/gallery/app.js").status == 200


def test_who_the_key_belongs_to(alice: LambdaClient, anon: LambdaClient) -> None:
    assert alice.get("/gallery/me").json() == {"user_id": "alice", "is_admin": False, "auth": "api-key"}
    assert anon.get("/gallery/me").json()["user_id"] is None
    assert anon.as_("isk_wrong").get("/gallery/me").status == 401
