"""S3UrlSigner on moto: what the presigned GET and POST ask S3 to enforce.

moto serves presigned URLs but does not enforce expiry, signatures or POST policy conditions
(../shared/TESTING.md), so these tests check what we generate (expiry, disposition, the policy's
conditions) and that moto serves and accepts the bytes; they do not claim AWS enforcement.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from api_helpers import png
from aws_emulators import fresh_resources

from image_service.adapters.s3_urls import S3UrlSigner
from image_service.domain.disposition import content_disposition
from image_service.domain.models import Image, PendingUpload

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
HOSTILE = ['a"b\\c.png', "line\r\nSet-Cookie: x=1.png", "фото 🐈.png", "plain.png"]


def image(key: str, filename: str) -> Image:
    return Image(
        image_id="i1", user_id="alice", name="n.png", filename=filename, content_type="image/png",
        format="PNG", width=8, height=8, size=10, checksum_sha256="ab" * 32, blob_key=key,
        created_at=NOW, updated_at=NOW,
    )  # fmt: skip


@pytest.mark.parametrize("filename", HOSTILE)
@pytest.mark.parametrize("download", [True, False])
def test_presigned_get_serves_the_bytes_with_a_safe_disposition(filename: str, download: bool) -> None:
    resources = fresh_resources()
    data = png()
    resources.blobs().put("alice/i1", data, "image/png")
    signer = S3UrlSigner(resources.clients, resources.bucket)
    url = signer.presign(image("alice/i1", filename), expires_in=120, download=download, now=NOW)
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["120"]
    assert query["X-Amz-Signature"][0]
    response = httpx.get(url)
    assert response.status_code == 200
    assert response.content == data
    disposition = response.headers["content-disposition"]
    assert disposition == content_disposition(filename, download=download)
    assert disposition.startswith("attachment;" if download else "inline;")
    assert "\r" not in disposition and "\n" not in disposition


def test_presigned_post_pins_key_type_and_size_range() -> None:
    resources = fresh_resources()
    signer = S3UrlSigner(resources.clients, resources.bucket)
    pending = PendingUpload(
        image_id="i2", user_id="alice", blob_key="alice/i2", content_type="image/png", size=5000,
        metadata={}, created_at=NOW, expires_at=NOW + timedelta(minutes=30),
    )  # fmt: skip
    target = signer.presign_upload(pending, now=NOW)
    assert target.method == "POST"
    assert target.fields is not None
    assert target.fields["key"] == "alice/i2"
    assert target.fields["Content-Type"] == "image/png"
    policy = json.loads(base64.b64decode(target.fields["policy"]))
    conditions = policy["conditions"]
    assert {"bucket": resources.bucket} in conditions
    assert {"key": "alice/i2"} in conditions
    assert {"Content-Type": "image/png"} in conditions
    assert ["content-length-range", 1, 5000] in conditions
    expiration = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert abs(expiration - datetime.now(UTC) - timedelta(minutes=30)) < timedelta(seconds=30)
    data = png()
    response = httpx.post(target.url, data=target.fields, files={"file": ("x.png", data, "image/png")})
    assert response.status_code in (200, 201, 204), response.text
    assert resources.blobs().get("alice/i2") == data


def test_the_service_never_verifies_s3_urls_itself() -> None:
    signer = S3UrlSigner(fresh_resources().clients, "b")
    assert not signer.verify("i1", expires=2**40, download=False, signature="x", now=NOW)
    assert not signer.verify_upload("i1", expires=2**40, signature="x", now=NOW)
