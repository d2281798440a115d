"""Hostile uploaded filenames must come back as one safe, parseable Content-Disposition header."""

from __future__ import annotations

import re
import uuid
from email.message import Message
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from api_helpers import b64, png, uploaded

pytestmark = pytest.mark.api

HOSTILE = 'naïve "cat"\r\nX-Evil: 1.jpg'
# filename="<printable ASCII but quote and backslash>", then optionally filename*=UTF-8''<pct-encoded>
DISPOSITION = re.compile(
    r"(attachment|inline); filename=\"([ !#-\[\]-~]*)\"(?:; filename\*=UTF-8''([A-Za-z0-9%!#$&+\-.^_`|~]+))?",
    re.IGNORECASE,
)


def check_disposition(response: httpx.Response, filename: str, kind: str) -> None:
    """One header, ASCII only, nothing injected, and the stored filename recoverable (RFC 6266)."""
    assert response.status_code == 200, response.text
    assert "x-evil" not in response.headers
    headers = response.headers.get_list("content-disposition")
    assert len(headers) == 1
    header = headers[0]
    assert header.isascii() and "\r" not in header and "\n" not in header
    match = DISPOSITION.fullmatch(header)
    assert match, header
    assert match.group(1).lower() == kind
    if filename.isascii() and '"' not in filename and "\\" not in filename:
        assert match.group(2) == filename
    else:
        assert match.group(3) is not None, header
        assert unquote(match.group(3), encoding="utf-8", errors="strict") == filename
    # The stdlib parser takes the last of filename/filename*, so it only checks the outline here;
    # RFC 6266's rule (filename* wins) is applied above.
    message = Message()
    message["content-disposition"] = header
    assert message.get_content_disposition() == kind
    assert message.get_filename()


def fetch(client: httpx.Client, meta: dict[str, Any]) -> None:
    """Every way the bytes are served carries the filename safely."""
    image_id, filename = meta["image_id"], meta["filename"]
    assert "\r" not in filename and "\n" not in filename
    for path in (f"/images/{image_id}/content", f"/{meta['name']}"):
        check_disposition(client.get(path), filename, "inline")
        check_disposition(client.get(path, params={"download": "true"}), filename, "attachment")
    url = client.get(f"/images/{image_id}", params={"download": "true"}).json()["url"]
    check_disposition(httpx.get(url), filename, "attachment")


@pytest.mark.parametrize(
    "filename",
    [
        HOSTILE,
        'quote".png',
        "back\\slash.png",
        "semi;colon=x.png",
        "猫の写真.png",
        "tab\there.png",
        "%22.png",
    ],
)
def test_hostile_filename_in_a_multipart_form_field(alice: httpx.Client, filename: str) -> None:
    files = {"file": ("ignored.png", png(), "image/png")}
    meta = uploaded(alice.post("/images", files=files, data={"filename": filename}))
    fetch(alice, meta)


@pytest.mark.parametrize("filename", [HOSTILE, "naïve.png", 'a "b".png'])
def test_hostile_filename_as_the_file_parts_name(alice: httpx.Client, filename: str) -> None:
    # httpx escapes quotes and controls in the part header as browsers do; whatever the server
    # parsed from it must still come back safely.
    meta = uploaded(alice.post("/images", files={"file": (filename, png(), "image/png")}))
    fetch(alice, meta)


@pytest.mark.parametrize(
    "raw_filename",
    [
        b'filename="back\\\\slash \\"quoted\\".png"',
        "filename=\"naïve 'cat'.png\"".encode(),
        b'filename="C:\\\\Users\\\\eve\\\\evil.png"',
        b'filename="../../etc/passwd"',
    ],
    ids=["escaped-quotes", "utf8", "windows-path", "traversal"],
)
def test_hostile_filename_in_a_hand_made_part_header(alice: httpx.Client, raw_filename: bytes) -> None:
    boundary = uuid.uuid4().hex
    body = (
        f"--{boundary}\r\n".encode()
        + b'Content-Disposition: form-data; name="file"; '
        + raw_filename
        + b"\r\nContent-Type: image/png\r\n\r\n"
        + png()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    response = alice.post(
        "/images", content=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    meta = uploaded(response)
    assert "/" not in meta["filename"] and "\\" not in meta["filename"]
    fetch(alice, meta)


def test_hostile_filename_in_json(alice: httpx.Client) -> None:
    meta = uploaded(alice.post("/images", json={"image_data": b64(png()), "filename": HOSTILE}))
    assert meta["filename"].startswith('naïve "cat"') and meta["filename"].endswith("X-Evil: 1.jpg")
    fetch(alice, meta)


@pytest.mark.parametrize(
    ("filename", "stored"),
    [
        ("\u202egpj.exe", "gpj.exe"),  # shown right to left, "exe.jpg" would look like a picture
        ("cat\u200e\u200f\u200b.png", "cat.png"),
        ("\u2066dog\u2069\ufeff.png", "dog.png"),
        ("sep\u2028\u0085.png", "sep.png"),
    ],
)
def test_invisible_characters_are_stripped_from_filenames(
    alice: httpx.Client, filename: str, stored: str
) -> None:
    meta = uploaded(alice.post("/images", json={"image_data": b64(png()), "filename": filename}))
    assert meta["filename"] == stored
    response = alice.get(f"/images/{meta['image_id']}/content", params={"download": "true"})
    assert response.headers["content-disposition"] == f'attachment; filename="{stored}"'
    fetch(alice, meta)
