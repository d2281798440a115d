"""Helpers shared by the API tests: images made with Pillow, uploads over HTTP, error-body checks,
list walking, what a server has stored, and reading signed URLs (ours and S3's)."""

from __future__ import annotations

import base64
import io
import math
import random
import uuid
from collections.abc import Hashable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from PIL import Image
from stored import Storage


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def image_bytes(
    fmt: str = "PNG", width: int = 8, height: int = 8, color: tuple[int, int, int] = (200, 30, 30)
) -> bytes:
    """A small, valid image; the colour is randomised a little so that checksums differ."""
    jitter = tuple(min(255, c + random.randint(0, 20)) for c in color)
    img = Image.new("RGB", (width, height), jitter)
    out = io.BytesIO()
    img.save(out, format=fmt)
    return out.getvalue()


def png(width: int = 8, height: int = 8) -> bytes:
    return image_bytes("PNG", width, height)


def jpeg(width: int = 16, height: int = 16) -> bytes:
    return image_bytes("JPEG", width, height)


def noise_png(width: int, height: int) -> bytes:
    """A PNG that does not compress: about 3 bytes per pixel."""
    img = Image.frombytes("RGB", (width, height), random.randbytes(width * height * 3))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def upload_json(data: bytes | None = None, **fields: Any) -> dict[str, Any]:
    """An upload's JSON body, for any transport: ``data`` (default: a small PNG) as base64
    ``image_data``, and ``fields`` beside it."""
    return {"image_data": b64(png() if data is None else data), **fields}


def post_image(
    client: httpx.Client,
    data: bytes | None = None,
    *,
    multipart: str | None = None,
    headers: dict[str, str] | None = None,
    **fields: Any,
) -> httpx.Response:
    """POST /images with ``data`` (default: a small PNG): as JSON (``upload_json``), or, given
    ``multipart`` (the file's name), as a form with ``fields``."""
    if multipart is None:
        return client.post("/images", json=upload_json(data, **fields), headers=headers)
    files = {"file": (multipart, png() if data is None else data, "image/png")}
    return client.post("/images", files=files, data=fields, headers=headers)


def uploaded(response: httpx.Response) -> dict[str, Any]:
    """The new image's metadata from an upload's answer, which must be a 201."""
    assert response.status_code == 201, response.text
    return dict(response.json()["metadata"])


def upload_image(client: httpx.Client, data: bytes | None = None, **options: Any) -> dict[str, Any]:
    """``post_image``, checked: the new image's metadata."""
    return uploaded(post_image(client, data, **options))


def assert_error(response: httpx.Response, status: int | tuple[int, ...]) -> str:
    """The contract's error shape: the status, a JSON {"error": "..."} body, no stack trace."""
    expected = status if isinstance(status, tuple) else (status,)
    assert response.status_code in expected, (response.status_code, response.text)
    assert response.status_code != 422
    assert response.headers["content-type"] == "application/json; charset=utf-8", response.headers
    body = response.json()
    assert isinstance(body, dict)
    assert isinstance(body.get("error"), str) and body["error"], body
    assert set(body) <= {"error", "details"}, body
    assert "Traceback" not in response.text and 'File "' not in response.text
    assert response.headers.get("x-request-id")
    return str(body["error"])


def list_all(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    """Every image a caller sees for these filters, walking the cursor to the end."""
    images: list[dict[str, Any]] = []
    query: dict[str, Any] = {"limit": 100, **params}
    for _ in range(1000):
        response = client.get("/images", params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        images.extend(body["images"])
        if not body["has_more"]:
            return images
        query["cursor"] = body["next_cursor"]
    raise AssertionError("the cursor never ended")


def stored_state(admin: httpx.Client, storage: Storage) -> tuple[set[str], Hashable]:
    """What a server holds: every image id in the catalog (as the admin sees it) and everything in
    its storage (the blob files; on aws every S3 object and every table item)."""
    return {i["image_id"] for i in list_all(admin)}, storage.snapshot()


def url_query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def url_signature(url: str) -> str:
    """The signature of a signed URL: ours (``signature``) or S3's SigV4 (``X-Amz-Signature``)."""
    query = url_query(url)
    return query.get("signature") or query["X-Amz-Signature"]


def url_expiry(url: str) -> float:
    """When a signed URL expires (Unix time), read from the URL itself."""
    query = url_query(url)
    if "X-Amz-Expires" in query:
        signed_at = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        return signed_at.timestamp() + int(query["X-Amz-Expires"])
    return float(query["expires"])


def assert_expires_in(url: str, seconds: int, issued: tuple[float, float]) -> None:
    """The URL, signed between ``issued`` (Unix times around the request), lives ``seconds``: its
    expiry, in whole seconds as both signers write it, lies within that window (rounded out to
    whole seconds) shifted by ``seconds``."""
    before, after = issued
    expiry = url_expiry(url)
    assert math.floor(before) + seconds <= expiry <= math.ceil(after) + seconds, (issued, expiry)


def parse_iso(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, value
    return parsed


def iso_z(value: datetime) -> str:
    """The contract's time format: UTC, milliseconds, a Z suffix."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
