"""Uploads that must fail: the right 4xx, an {"error"} body, and nothing left behind."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from api_helpers import assert_error, b64, image_bytes, jpeg, noise_png, png, stored_state, unique
from api_server import SMALL_MAX_BYTES, SMALL_MAX_PIXELS, NothingStored, Server, Upload

pytestmark = pytest.mark.api

SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b'<rect width="10" height="10"/></svg>'
)
HTML_AS_GIF = b"GIF89a<html><body><script>alert(document.cookie)</script></body></html>"


def forged_png(width: int, height: int) -> bytes:
    """A 1x1 PNG whose header claims width x height (its CRC no longer matches: never decoded)."""
    data = bytearray(png(1, 1))
    assert data[12:16] == b"IHDR"
    data[16:20] = width.to_bytes(4, "big")
    data[20:24] = height.to_bytes(4, "big")
    return bytes(data)


JSON_BODIES = {
    "bad base64": ({"image_data": "this is *not* base64!"}, 400),
    "base64 with a bad length": ({"image_data": "abcde"}, 400),
    "missing image_data": ({"title": "nothing"}, 400),
    "image_data not a string": ({"image_data": 12345}, 400),
    "unknown field": ({"image_data": b64(png()), "colour": "red"}, 400),
    "empty image_data": ({"image_data": ""}, (400, 415)),
    "truncated JPEG": ({"image_data": b64(jpeg(64, 64)[:300])}, 415),
    "JPEG without its end": ({"image_data": b64(jpeg(64, 64)[:-2])}, 415),
    "truncated PNG": ({"image_data": b64(png(64, 64)[:-20])}, 415),
    "SVG": ({"image_data": b64(SVG)}, 415),
    "SVG data URL": ({"image_data": f"data:image/svg+xml;base64,{b64(SVG)}"}, 415),
    "HTML starting with GIF89a": ({"image_data": b64(HTML_AS_GIF)}, 415),
    "HTML data URL": ({"image_data": f"data:text/html;base64,{b64(b'<html></html>')}"}, 415),
    "plain text": ({"image_data": b64(b"hello world, I am an image")}, 415),
    "pixels over the limit by header": ({"image_data": b64(forged_png(100_000, 100_000))}, 413),
    "name starting with a dot": ({"image_data": b64(png()), "name": ".hidden"}, 400),
    "name with a slash": ({"image_data": b64(png()), "name": "a/b"}, 400),
    "name with dot-dot": ({"image_data": b64(png()), "name": "../etc.png"}, 400),
    "name too long": ({"image_data": b64(png()), "name": "x" * 129}, 400),
    "name with a space": ({"image_data": b64(png()), "name": "my cat.png"}, 400),
    "title over 200 characters": ({"image_data": b64(png()), "title": "t" * 201}, 400),
    "description over 5000 characters": ({"image_data": b64(png()), "description": "d" * 5001}, 400),
    "21 tags": ({"image_data": b64(png()), "tags": [f"tag{i}" for i in range(21)]}, 400),
    "tag over 50 characters": ({"image_data": b64(png()), "tags": ["x" * 51]}, 400),
    "tags not strings": ({"image_data": b64(png()), "tags": [1, 2]}, 400),
    "category over 50 characters": ({"image_data": b64(png()), "category": "c" * 51}, 400),
    "bad visibility": ({"image_data": b64(png()), "visibility": "friends"}, 400),
    "bad user_id": ({"image_data": b64(png()), "user_id": "alice/../bob"}, (400, 403)),
}


@pytest.mark.parametrize(("body", "status"), JSON_BODIES.values(), ids=JSON_BODIES.keys())
def test_bad_json_upload_is_refused_and_stores_nothing(
    alice: httpx.Client, nothing_stored: NothingStored, body: dict[str, object], status: int
) -> None:
    with nothing_stored():
        assert_error(alice.post("/images", json=body), status)


def test_exactly_20_tags_and_a_200_character_title_are_fine(alice: httpx.Client, upload: Upload) -> None:
    meta = upload(alice, tags=[f"tag{i}" for i in range(20)], title="t" * 200)
    assert len(meta["tags"]) == 20 and len(meta["title"]) == 200


RAW_BODIES = {
    "not JSON": (b"{this is not json", "application/json", 400),
    "a JSON array": (b'["image_data"]', "application/json", 400),
    "not UTF-8": (b'{"image_data": "\xff\xfe"}', "application/json", 400),
    "text/plain": (b"hello", "text/plain", (400, 415)),
    "multipart without a boundary": (b"--x\r\n\r\n", "multipart/form-data", 400),
}


@pytest.mark.parametrize(("content", "content_type", "status"), RAW_BODIES.values(), ids=RAW_BODIES.keys())
def test_body_that_is_not_an_upload_is_refused(
    alice: httpx.Client,
    nothing_stored: NothingStored,
    content: bytes,
    content_type: str,
    status: int,
) -> None:
    with nothing_stored():
        response = alice.post("/images", content=content, headers={"Content-Type": content_type})
        assert_error(response, status)


def test_multipart_without_a_file_is_refused(alice: httpx.Client, nothing_stored: NothingStored) -> None:
    with nothing_stored():
        assert_error(alice.post("/images", files={"title": (None, "no file here")}), 400)
        # A form-encoded body cannot carry a file at all.
        assert_error(alice.post("/images", data={"title": "no file here"}), (400, 415))
        # A text field called `file` is not a file either.
        assert_error(alice.post("/images", files={"file": (None, "just text")}), 400)


def test_multipart_empty_file_is_refused(alice: httpx.Client, nothing_stored: NothingStored) -> None:
    with nothing_stored():
        response = alice.post("/images", files={"file": ("empty.png", b"", "image/png")})
        assert_error(response, (400, 415))


@pytest.mark.parametrize(
    ("data", "status"),
    [(HTML_AS_GIF, 415), (SVG, 415), (jpeg(64, 64)[:300], 415), (forged_png(20_000, 20_000), 413)],
    ids=["html-gif", "svg", "truncated-jpeg", "pixel-bomb"],
)
def test_bad_multipart_file_is_refused(
    alice: httpx.Client, nothing_stored: NothingStored, data: bytes, status: int
) -> None:
    with nothing_stored():
        response = alice.post("/images", files={"file": ("cat.gif", data, "image/gif")})
        assert_error(response, status)


def test_taken_name_is_a_conflict(alice: httpx.Client, upload: Upload, nothing_stored: NothingStored) -> None:
    name = f"{unique('taken')}.png"
    upload(alice, name=name)
    with nothing_stored():
        assert_error(alice.post("/images", json={"image_data": b64(png()), "name": name}), 409)
        response = alice.post("/images", files={"file": ("x.png", png(), "image/png")}, data={"name": name})
        assert_error(response, 409)


def test_uploading_for_someone_else_with_a_user_key_is_forbidden(
    alice: httpx.Client, nothing_stored: NothingStored
) -> None:
    with nothing_stored():
        assert_error(alice.post("/images", json={"image_data": b64(png()), "user_id": "bob"}), 403)
        files = {"file": ("x.png", png(), "image/png")}
        assert_error(alice.post("/images", files=files, data={"user_id": "bob"}), 403)


def test_upload_without_a_key_is_unauthenticated(anon: httpx.Client, nothing_stored: NothingStored) -> None:
    with nothing_stored():
        response = anon.post("/images", json={"image_data": b64(png()), "user_id": "alice"})
        assert_error(response, 401)
        assert response.headers.get("www-authenticate", "").lower().startswith("bearer")


@pytest.mark.parametrize(
    "headers",
    [
        {"x-api-key": "isk_000000000000_wrong"},
        {"x-api-key": "not-even-a-key"},
        {"Authorization": "Bearer isk_000000000000_wrong"},
    ],
    ids=["wrong-x-api-key", "garbage-x-api-key", "wrong-bearer"],
)
def test_upload_with_a_wrong_key_is_unauthenticated(
    server: Server, nothing_stored: NothingStored, headers: dict[str, str]
) -> None:
    with nothing_stored(), httpx.Client(base_url=server.base_url, headers=headers) as client:
        assert_error(client.post("/images", json={"image_data": b64(png())}), 401)


# -- the small-limits server: MAX_IMAGE_SIZE=20000, MAX_IMAGE_PIXELS=10000 (api_server.SMALL_*) ----


@pytest.fixture(scope="module")
def small_admin(small_server: Server) -> httpx.Client:
    assert small_server.admin_key
    return small_server.client(small_server.admin_key)


@pytest.fixture
def small_unchanged(small_server: Server, small_admin: httpx.Client) -> Iterator[None]:
    before = stored_state(small_admin, small_server.storage)
    yield
    assert stored_state(small_admin, small_server.storage) == before


def test_small_server_accepts_images_under_its_limits(small_admin: httpx.Client) -> None:
    response = small_admin.post("/images", json={"image_data": b64(png(100, 100))})
    assert response.status_code == 201, response.text


@pytest.mark.usefixtures("small_unchanged")
def test_over_max_image_size_is_413(small_admin: httpx.Client) -> None:
    big = noise_png(90, 90)  # under the pixel limit, over the byte limit
    assert SMALL_MAX_PIXELS >= 90 * 90 and len(big) > SMALL_MAX_BYTES
    assert_error(small_admin.post("/images", json={"image_data": b64(big)}), 413)
    assert_error(small_admin.post("/images", files={"file": ("big.png", big, "image/png")}), 413)
    response = small_admin.post("/images", json={"image_data": f"data:image/png;base64,{b64(big)}"})
    assert_error(response, 413)


@pytest.mark.usefixtures("small_unchanged")
def test_far_over_max_image_size_is_413_without_reading_the_body(small_admin: httpx.Client) -> None:
    huge = b"\x00" * (3 * 1024 * 1024)
    assert_error(small_admin.post("/images", files={"file": ("huge.png", huge, "image/png")}), 413)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP"])
@pytest.mark.usefixtures("small_unchanged")
def test_over_max_image_pixels_is_413(small_admin: httpx.Client, fmt: str) -> None:
    data = image_bytes(fmt, 200, 200)  # 40,000 pixels, but only a few hundred bytes
    assert SMALL_MAX_PIXELS < 200 * 200 and len(data) < SMALL_MAX_BYTES
    assert_error(small_admin.post("/images", json={"image_data": b64(data)}), 413)


@pytest.mark.usefixtures("small_unchanged")
def test_batch_with_one_file_over_the_limit_stores_nothing(small_admin: httpx.Client) -> None:
    files = [
        ("files", ("ok.png", png(10, 10), "image/png")),
        ("files", ("wide.png", image_bytes("PNG", 300, 300), "image/png")),
    ]
    message = assert_error(small_admin.post("/images", files=files), 413)
    assert "wide.png" in message


MULTIPART_HEAD = (
    b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
    b"Content-Type: image/png\r\n\r\n"
)


def _chunked(total: int, chunk: int = 64 * 1024, head: bytes = b"") -> Iterator[bytes]:
    yield head
    sent = 0
    while sent < total:
        yield b"\x00" * min(chunk, total - sent)
        sent += chunk


@pytest.mark.usefixtures("small_unchanged")
@pytest.mark.parametrize("content_type", ["application/json", "multipart/form-data; boundary=xyz"])
def test_chunked_body_over_the_cap_is_413_while_streaming(
    small_admin: httpx.Client, content_type: str
) -> None:
    # No Content-Length: the cap must hold while the body streams in (21 x 20,000 + 1 MiB < 3 MiB).
    head = MULTIPART_HEAD if content_type.startswith("multipart/") else b""
    body = _chunked(3 * 1024 * 1024, head=head)
    response = small_admin.post("/images", content=body, headers={"Content-Type": content_type})
    assert "content-length" not in response.request.headers
    assert_error(response, 413)


def test_batch_under_the_batch_cap_is_not_refused_by_size(small_admin: httpx.Client) -> None:
    files = [("files", (f"n{i}.png", noise_png(70, 70), "image/png")) for i in range(3)]
    assert sum(len(f[1][1]) for f in files) > SMALL_MAX_BYTES * 4 // 3 + 1024  # more than one image
    response = small_admin.post("/images", files=files)
    assert response.status_code == 201, response.text
    assert len(response.json()["images"]) == 3


@pytest.mark.usefixtures("small_unchanged")
def test_more_than_20_files_in_a_batch_is_400(small_admin: httpx.Client) -> None:
    files = [("files", (f"n{i}.png", png(4, 4), "image/png")) for i in range(21)]
    assert_error(small_admin.post("/images", files=files), 400)


def _nested(depth: int) -> bytes:
    return b'{"image_data": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/images"),
        ("POST", "/upload"),
        ("POST", "/images/uploads"),
        ("PATCH", "/images/{id}"),
        ("DELETE", "/images"),
    ],
)
def test_json_nested_10000_deep_is_400_on_every_json_route(
    alice: httpx.Client, upload: Upload, nothing_stored: NothingStored, method: str, path: str
) -> None:
    image_id = upload(alice)["image_id"]
    with nothing_stored():
        response = alice.request(
            method,
            path.format(id=image_id),
            content=_nested(10_000),
            headers={"content-type": "application/json"},
        )
    assert_error(response, 400)
