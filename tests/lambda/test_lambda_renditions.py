"""Renditions through API Gateway: made and served by the handler on both payload versions, a
signed rendition URL that the handler itself answers, and a rendition over the inline limit
answered with a 302 to its stored object in S3."""

from __future__ import annotations

import io
import random
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from api_helpers import unique
from apigw import LambdaClient, Version
from lambda_helpers import Stack, upload
from PIL import Image

from image_service.domain.renditions import rendition_prefix

WEBP = "image/avif,image/webp,*/*;q=0.8"


def noise_jpeg(width: int, height: int) -> bytes:
    img = Image.frombytes("RGB", (width, height), random.randbytes(width * height * 3))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=95)
    return out.getvalue()


def size_of(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as img:
        return img.size


def test_a_rendition_through_the_handler(stack: Stack, alice: LambdaClient, anon: LambdaClient) -> None:
    meta = upload(alice, noise_jpeg(120, 80), name=f"{unique('lr')}.jpg", filename="shot.jpg")
    for path in (f"/images/{meta['image_id']}/content", f"/{meta['name']}"):
        before = stack.stored(meta["image_id"]).access_count
        reply = anon.get(path, params={"w": 64}, headers={"Accept": WEBP})
        assert reply.status == 200, reply.text
        assert reply.is_base64 is True
        assert reply.headers["content-type"] == "image/webp"
        assert reply.headers["vary"] == "Accept"
        assert reply.headers["content-length"] == str(len(reply.body))
        assert size_of(reply.body) == (64, 43)
        assert stack.stored(meta["image_id"]).access_count == before + 1
        again = anon.get(
            path, params={"w": 64}, headers={"Accept": WEBP, "If-None-Match": reply.headers["etag"]}
        )
        assert again.status == 304
    keys = stack.resources.clients.s3.list_objects_v2(
        Bucket=stack.resources.bucket, Prefix=rendition_prefix(meta["image_id"])
    )
    assert len(keys.get("Contents", [])) == 1


def test_a_signed_rendition_url_is_answered_by_the_handler(alice: LambdaClient, anon: LambdaClient) -> None:
    meta = upload(alice, noise_jpeg(120, 80), visibility="private")
    url = alice.get(f"/images/{meta['image_id']}", params={"w": 64, "format": "png"}).json()["url"]
    parts = urlsplit(url)
    assert parts.path == f"/images/{meta['image_id']}/content"
    reply = anon.get(parts.path, params=parse_qsl(parts.query))
    assert reply.status == 200, reply.text
    assert reply.headers["content-type"] == "image/png"
    assert size_of(reply.body) == (64, 43)
    other_size = [(k, "128" if k == "w" else v) for k, v in parse_qsl(parts.query)]
    assert anon.get(parts.path, params=other_size).status == 403
    assert anon.get(parts.path, params=[*parse_qsl(parts.query), ("w", "128")]).status == 400  # w twice


@pytest.fixture(scope="module")
def small_inline(stack: Stack) -> Any:
    """A handler that answers at most 2000 bytes inline (the deployed one: 4 MiB)."""
    return stack.handler_with(IMAGE_SERVICE_MAX_INLINE_BYTES="2000")


def test_a_rendition_over_the_inline_limit_redirects_to_its_object(
    stack: Stack, version: Version, small_inline: Any
) -> None:
    alice = stack.client(version, "alice", handler=small_inline)
    anon = stack.client(version, handler=small_inline)
    meta = upload(alice, noise_jpeg(200, 150), filename="noise.jpg")
    path = f"/images/{meta['image_id']}/content"
    for attempt in ("made now", "stored"):
        before = stack.stored(meta["image_id"]).access_count
        reply = anon.get(path, params={"w": 128, "format": "png", "download": "true"})
        assert reply.status == 302, (attempt, reply.text)
        assert reply.body == b""
        assert reply.headers["cache-control"] == "no-store"
        location = reply.headers["location"]
        assert location.startswith(stack.resources.emulators.s3_url)
        assert "renditions" in urlsplit(location).path and "X-Amz-Signature=" in location
        assert stack.stored(meta["image_id"]).access_count == before + 1
        followed = httpx.get(location, timeout=10)  # no credentials: the URL is the grant
        assert followed.status_code == 200
        assert followed.headers["content-type"] == "image/png"
        assert followed.headers["content-disposition"] == 'attachment; filename="noise.png"'
        assert len(followed.content) > 2000 and size_of(followed.content) == (128, 96)
    # A rendition small enough is still answered inline.
    small = anon.get(path, params={"w": 64, "format": "jpeg", "quality": 10})
    assert small.status == 200 and len(small.body) <= 2000


def test_auto_offers_avif_only_when_configured(stack: Stack, alice: LambdaClient, anon: LambdaClient) -> None:
    meta = upload(alice, noise_jpeg(90, 60))
    path = f"/images/{meta['image_id']}/content"
    assert anon.get(path, params={"w": 64}, headers={"Accept": WEBP}).headers["content-type"] == "image/webp"
    avif = stack.client(anon.version, handler=stack.handler_with(IMAGE_SERVICE_AUTO_AVIF="true"))
    reply = avif.get(path, params={"w": 64}, headers={"Accept": WEBP})
    assert reply.status == 200, reply.text
    assert reply.headers["content-type"] == "image/avif" and reply.headers["vary"] == "Accept"
    assert reply.body[4:12] == b"ftypavif"
    assert (
        avif.get(path, params={"w": 64}, headers={"Accept": "image/webp"}).headers["content-type"]
        == "image/webp"
    )
