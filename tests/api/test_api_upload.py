"""POST /images in its three body forms and its aliases; what the bytes say wins over the client."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import httpx
import pytest
from api_helpers import assert_error, b64, image_bytes, jpeg, list_all, png, unique
from api_server import NothingStored, Server, Upload

pytestmark = pytest.mark.api

IMAGE_FIELDS = {
    "image_id", "user_id", "name", "filename", "title", "description", "tags", "category",
    "visibility", "content_type", "format", "width", "height", "size", "checksum_sha256",
    "s3_key", "created_at", "updated_at", "access_count", "last_accessed_at",
}  # fmt: skip


ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def assert_single(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"message", "image_id", "metadata"}
    assert body["message"] == "Image uploaded successfully"
    assert body["image_id"] == body["metadata"]["image_id"]
    assert set(body["metadata"]) >= IMAGE_FIELDS
    return dict(body["metadata"])


def test_json_base64_upload_fills_metadata_from_the_bytes(server: Server, alice: httpx.Client) -> None:
    data = image_bytes("JPEG", 40, 30)
    response = alice.post(
        "/images",
        json={
            "image_data": b64(data),
            "filename": "IMG_0042.JPG",
            "title": "  My cat  ",
            "description": "on the sofa",
            "category": "Pets",
            "tags": ["Cat", "sunset", "cat"],
        },
    )
    meta = assert_single(response)
    assert meta["user_id"] == "alice"
    assert meta["filename"] == "IMG_0042.JPG"
    assert meta["name"] == f"{meta['image_id']}.jpg"
    assert meta["title"] == "My cat"
    assert meta["description"] == "on the sofa"
    assert meta["category"] == "pets"
    assert meta["tags"] == ["cat", "sunset"]
    assert meta["visibility"] == "public"
    assert (meta["content_type"], meta["format"], meta["width"], meta["height"]) == (
        "image/jpeg",
        "JPEG",
        40,
        30,
    )
    assert meta["size"] == len(data)
    assert meta["checksum_sha256"] == hashlib.sha256(data).hexdigest()
    assert meta["s3_key"] == f"alice/{meta['image_id']}"
    assert meta["access_count"] == 0 and meta["last_accessed_at"] is None
    assert ISO_Z.fullmatch(meta["created_at"]) and meta["created_at"] == meta["updated_at"]
    assert server.storage.read_blob(meta["s3_key"]) == data


def test_json_with_a_charset_or_without_a_content_type(alice: httpx.Client) -> None:
    body = json.dumps({"image_data": b64(png())}).encode()
    for headers in ({"Content-Type": "application/json; charset=utf-8"}, {}):
        assert_single(alice.post("/images", content=body, headers=headers))


def test_data_url_upload(alice: httpx.Client) -> None:
    data = png(5, 7)
    meta = assert_single(alice.post("/images", json={"image_data": f"data:image/png;base64,{b64(data)}"}))
    assert (meta["content_type"], meta["width"], meta["height"]) == ("image/png", 5, 7)
    assert meta["size"] == len(data)


def test_image_file_is_an_alias_of_image_data(alice: httpx.Client) -> None:
    meta = assert_single(alice.post("/images", json={"image_file": b64(image_bytes("GIF", 3, 4))}))
    assert (meta["content_type"], meta["format"]) == ("image/gif", "GIF")


def test_webp_is_accepted(alice: httpx.Client) -> None:
    meta = assert_single(alice.post("/images", json={"image_data": b64(image_bytes("WEBP", 9, 6))}))
    assert (meta["content_type"], meta["format"], meta["width"], meta["height"]) == (
        "image/webp",
        "WEBP",
        9,
        6,
    )


def test_tags_as_a_comma_separated_string_are_lower_cased_and_de_duplicated(alice: httpx.Client) -> None:
    meta = assert_single(alice.post("/images", json={"image_data": b64(png()), "tags": "A, b,a"}))
    assert meta["tags"] == ["a", "b"]


def test_user_id_equal_to_the_callers_own_is_accepted(alice: httpx.Client) -> None:
    meta = assert_single(alice.post("/images", json={"image_data": b64(png()), "user_id": "alice"}))
    assert meta["user_id"] == "alice"


def test_admin_may_upload_for_another_user(admin: httpx.Client) -> None:
    meta = assert_single(admin.post("/images", json={"image_data": b64(png()), "user_id": "dave"}))
    assert meta["user_id"] == "dave"
    assert meta["s3_key"].startswith("dave/")


def test_multipart_file_with_form_fields(alice: httpx.Client) -> None:
    name = f"{unique('cat')}.png"
    data = png(12, 10)
    response = alice.post(
        "/images",
        files={"file": ("holiday.png", data, "image/png")},
        data={
            "name": name,
            "title": "Holiday",
            "description": "beach",
            "tags": "Sea, sun,sea",
            "category": "travel",
            "visibility": "private",
        },
    )
    meta = assert_single(response)
    assert meta["name"] == name
    assert meta["filename"] == "holiday.png"
    assert meta["title"] == "Holiday" and meta["description"] == "beach"
    assert meta["tags"] == ["sea", "sun"]
    assert meta["category"] == "travel"
    assert meta["visibility"] == "private"
    assert (meta["width"], meta["height"], meta["size"]) == (12, 10, len(data))


def test_multipart_repeated_tags_fields(alice: httpx.Client) -> None:
    response = alice.post(
        "/images", files={"file": ("a.png", png(), "image/png")}, data={"tags": ["One", "two", "ONE"]}
    )
    assert assert_single(response)["tags"] == ["one", "two"]


def test_content_type_comes_from_the_bytes_not_the_filename_or_part_header(alice: httpx.Client) -> None:
    data = png(6, 3)
    response = alice.post("/images", files={"file": ("x.jpg", data, "image/jpeg")})
    meta = assert_single(response)
    assert (meta["content_type"], meta["format"], meta["width"], meta["height"]) == (
        "image/png",
        "PNG",
        6,
        3,
    )
    assert meta["filename"] == "x.jpg"
    assert meta["name"].endswith(".png")
    content = alice.get(f"/images/{meta['image_id']}/content")
    assert content.headers["content-type"] == "image/png"
    assert content.content == data


def test_multipart_batch_answers_every_image(alice: httpx.Client) -> None:
    tag = unique("batch")
    files = [
        ("files", ("one.png", png(), "image/png")),
        ("files", ("two.jpg", jpeg(), "image/jpeg")),
        ("files", ("three.gif", image_bytes("GIF"), "image/gif")),
    ]
    response = alice.post("/images", files=files, data={"tags": tag, "title": "batch"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"message", "images"}
    assert isinstance(body["message"], str) and body["message"]
    assert [i["filename"] for i in body["images"]] == ["one.png", "two.jpg", "three.gif"]
    assert [i["format"] for i in body["images"]] == ["PNG", "JPEG", "GIF"]
    assert all(i["tags"] == [tag] and i["title"] == "batch" for i in body["images"])
    assert len({i["image_id"] for i in body["images"]}) == 3
    listed = list_all(alice, tag=tag)
    assert {i["image_id"] for i in listed} == {i["image_id"] for i in body["images"]}


def test_batch_with_a_bad_file_in_the_middle_stores_nothing(
    alice: httpx.Client, nothing_stored: NothingStored
) -> None:
    tag = unique("badbatch")
    files = [
        ("files", ("good1.png", png(), "image/png")),
        ("files", ("evil.png", b"this is not an image at all", "image/png")),
        ("files", ("good2.jpg", jpeg(), "image/jpeg")),
    ]
    with nothing_stored():
        response = alice.post("/images", files=files, data={"tags": tag})
        message = assert_error(response, 415)
    assert "evil.png" in message
    assert list_all(alice, tag=tag) == []


def test_batch_with_a_name_is_refused(alice: httpx.Client, nothing_stored: NothingStored) -> None:
    files = [("files", ("a.png", png(), "image/png")), ("files", ("b.png", png(), "image/png"))]
    with nothing_stored():
        assert_error(alice.post("/images", files=files, data={"name": unique("n")}), 400)


@pytest.mark.parametrize("path", ["/upload", "/api/v1/images"])
def test_upload_aliases(alice: httpx.Client, path: str) -> None:
    meta = assert_single(alice.post(path, json={"image_data": b64(png())}))
    assert alice.get(f"/images/{meta['image_id']}").status_code == 200


def test_api_v1_prefix_serves_the_other_image_routes(alice: httpx.Client, upload: Upload) -> None:
    meta = upload(alice, tags=[tag := unique("v1")])
    listed = alice.get("/api/v1/images", params={"tag": tag})
    assert listed.status_code == 200
    assert [i["image_id"] for i in listed.json()["images"]] == [meta["image_id"]]
    assert alice.get(f"/api/v1/images/{meta['image_id']}").json()["image_id"] == meta["image_id"]
    assert alice.get(f"/api/v1/images/{meta['image_id']}/content").status_code == 200
    patched = alice.patch(f"/api/v1/images/{meta['image_id']}", json={"title": "v1"})
    assert patched.status_code == 200 and patched.json()["metadata"]["title"] == "v1"
    assert alice.delete(f"/api/v1/images/{meta['image_id']}").status_code == 200
