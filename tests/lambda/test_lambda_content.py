"""Image bytes through API Gateway: a binary body must leave the handler base64-encoded with
`isBase64Encoded: true` (else API Gateway mangles it), conditional and range requests work on
both payload versions, and content over the inline limit is a 302 to a presigned S3 URL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from api_helpers import jpeg, noise_png, png, unique
from apigw import HttpRequest, LambdaClient, Version, reply_from, rest_api_event
from lambda_helpers import Stack, assert_error, upload


@pytest.fixture(scope="module")
def stored(stack: Stack) -> tuple[dict[str, Any], bytes]:
    data = jpeg(64, 48)
    meta = upload(stack.client("v2", "alice"), data, name=f"{unique('photo')}.jpg", filename="photo.jpg")
    return meta, data


def paths(meta: dict[str, Any]) -> list[str]:
    return [f"/images/{meta['image_id']}/content", f"/{meta['name']}"]


@pytest.mark.parametrize("by", ["id", "name"])
def test_binary_body_round_trips(
    stack: Stack, anon: LambdaClient, stored: tuple[dict[str, Any], bytes], by: str
) -> None:
    meta, data = stored
    before = stack.stored(meta["image_id"]).access_count
    reply = anon.get(paths(meta)[0 if by == "id" else 1])
    assert reply.status == 200, reply.text
    assert reply.is_base64 is True
    assert isinstance(reply.result["body"], str)
    assert reply.body == data
    assert reply.headers["content-type"] == "image/jpeg"
    assert reply.headers["content-length"] == str(len(data))
    assert reply.headers["accept-ranges"] == "bytes"
    assert reply.headers["etag"] == f'"{meta["checksum_sha256"][:32]}"'
    assert reply.headers["last-modified"].endswith(" GMT")
    assert reply.headers["cache-control"].startswith("public")
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert 'filename="photo.jpg"' in reply.headers["content-disposition"]
    assert stack.stored(meta["image_id"]).access_count == before + 1


def test_http_api_payload_1_0(stack: Stack, stored: tuple[dict[str, Any], bytes]) -> None:
    """An HTTP API may also send payload 1.0: the REST API shape plus `"version": "1.0"`."""
    meta, data = stored
    event = rest_api_event(HttpRequest("GET", paths(meta)[0], headers=[("Range", "bytes=0-99")]))
    event["version"] = "1.0"
    reply = reply_from("v1", event, stack.handler(event, None))
    assert reply.status == 206 and reply.is_base64 is True
    assert reply.body == data[:100]


def test_png_and_download(alice: LambdaClient, anon: LambdaClient) -> None:
    data = png(33, 17)
    meta = upload(alice, data, filename="diagram.png")
    reply = anon.get(f"/images/{meta['image_id']}/content", params={"download": "true"})
    assert reply.status == 200 and reply.is_base64
    assert reply.body == data
    assert reply.headers["content-type"] == "image/png"
    assert reply.headers["content-disposition"].startswith("attachment")
    assert 'filename="diagram.png"' in reply.headers["content-disposition"]


def test_private_content_for_its_owner(alice: LambdaClient) -> None:
    data = png()
    meta = upload(alice, data, visibility="private")
    reply = alice.get(f"/images/{meta['image_id']}/content")
    assert reply.status == 200 and reply.body == data
    assert reply.headers["cache-control"].startswith("private")


def test_if_none_match_gives_304(
    stack: Stack, anon: LambdaClient, stored: tuple[dict[str, Any], bytes]
) -> None:
    meta, _ = stored
    for path in paths(meta):
        etag = anon.get(path).headers["etag"]
        before = stack.stored(meta["image_id"]).access_count
        for header in (etag, f"W/{etag}", f'"nope", {etag}', "*"):
            reply = anon.get(path, headers={"If-None-Match": header})
            assert reply.status == 304, (header, reply.text)
            assert reply.body == b""
            assert reply.headers["etag"] == etag
            # Never Mangum's "application/json" default: a cache may copy it onto the image.
            assert reply.headers["content-type"] == "image/jpeg"
        assert stack.stored(meta["image_id"]).access_count == before  # nothing was read
        assert anon.get(path, headers={"If-None-Match": '"something-else"'}).status == 200


def test_range_gives_206(anon: LambdaClient, stored: tuple[dict[str, Any], bytes]) -> None:
    meta, data = stored
    size = len(data)
    for path in paths(meta):
        cases = {
            "bytes=0-9": (data[:10], f"bytes 0-9/{size}"),
            "bytes=-5": (data[-5:], f"bytes {size - 5}-{size - 1}/{size}"),
            "bytes=10-": (data[10:], f"bytes 10-{size - 1}/{size}"),
        }
        for header, (expected, content_range) in cases.items():
            reply = anon.get(path, headers={"Range": header})
            assert reply.status == 206, (header, reply.text)
            assert reply.is_base64 is True
            assert reply.body == expected
            assert reply.headers["content-range"] == content_range
            assert reply.headers["content-length"] == str(len(expected))
        reply = anon.get(path, headers={"Range": f"bytes={size}-"})
        assert_error(reply, 416)
        assert reply.headers["content-range"] == f"bytes */{size}"


def test_head_has_headers_only(anon: LambdaClient, stored: tuple[dict[str, Any], bytes]) -> None:
    meta, data = stored
    reply = anon.request("HEAD", paths(meta)[0])
    assert reply.status == 200
    assert reply.body == b""
    assert reply.headers["content-length"] == str(len(data))
    assert reply.headers["content-type"] == "image/jpeg"


@pytest.fixture(scope="module")
def small_inline(stack: Stack) -> Any:
    """A handler that answers at most 2000 bytes inline (the deployed one: 4 MiB)."""
    return stack.handler_with(IMAGE_SERVICE_MAX_INLINE_BYTES="2000")


def test_over_the_inline_limit_redirects_to_s3(stack: Stack, version: Version, small_inline: Any) -> None:
    alice = stack.client(version, "alice", handler=small_inline)
    anon = stack.client(version, handler=small_inline)
    data = noise_png(40, 40)
    assert len(data) > 2000
    meta = upload(alice, data, name=f"{unique('big')}.png", filename="big.png")
    for path in paths(meta):
        before = stack.stored(meta["image_id"]).access_count
        reply = anon.get(path)
        assert reply.status == 302, reply.text
        assert reply.body == b""
        assert reply.headers["cache-control"] == "no-store"
        location = reply.headers["location"]
        assert location.startswith(stack.resources.emulators.s3_url)
        assert "X-Amz-Signature=" in location
        assert stack.stored(meta["image_id"]).access_count == before + 1
        followed = httpx.get(location, timeout=10)  # no credentials: the URL is the grant
        assert followed.status_code == 200
        assert followed.content == data
        assert followed.headers["content-type"] == "image/png"
        assert stack.stored(meta["image_id"]).access_count == before + 1  # S3 does not count again
    # A range small enough to answer inline still is; small images too.
    reply = anon.get(paths(meta)[0], headers={"Range": "bytes=0-99"})
    assert reply.status == 206 and reply.body == data[:100]
    small = png()
    assert len(small) < 2000
    small_meta = upload(alice, small)
    reply = anon.get(f"/images/{small_meta['image_id']}/content")
    assert reply.status == 200 and reply.body == small


def test_redirect_for_a_download_keeps_the_disposition(stack: Stack, small_inline: Any) -> None:
    alice = stack.client("v2", "alice", handler=small_inline)
    data = noise_png(40, 40)
    meta = upload(alice, data, filename="raw scan.png")
    reply = alice.get(f"/images/{meta['image_id']}/content", params={"download": "true"})
    assert reply.status == 302
    followed = httpx.get(reply.headers["location"], timeout=10)
    assert followed.status_code == 200 and followed.content == data
    assert followed.headers["content-disposition"].startswith("attachment")


def test_private_content_is_404_not_a_redirect(stack: Stack, version: Version, small_inline: Any) -> None:
    alice = stack.client(version, "alice", handler=small_inline)
    meta = upload(alice, noise_png(40, 40), visibility="private")
    assert_error(stack.client(version, handler=small_inline).get(f"/images/{meta['image_id']}/content"), 404)
    assert_error(stack.client(version, "bob", handler=small_inline).get(f"/{meta['name']}"), 404)
    assert stack.stored(meta["image_id"]).access_count == 0
