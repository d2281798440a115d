"""Uploads through API Gateway: JSON bodies plain and base64-encoded, multipart bodies base64-encoded
as API Gateway sends binary, one file (`file`) or a batch (`files`). The stored bytes are checked in
S3 itself, not only through the API."""

from __future__ import annotations

import hashlib

import pytest
from api_helpers import b64, jpeg, png, unique
from apigw import LambdaClient, Version
from lambda_helpers import Stack, assert_error


def stored_bytes(stack: Stack, blob_key: str) -> bytes:
    return stack.resources.blobs().get(blob_key)


@pytest.mark.parametrize("encoded", [False, True], ids=["plain-body", "base64-body"])
def test_json_upload(stack: Stack, alice: LambdaClient, encoded: bool) -> None:
    data = jpeg(40, 30)
    name = f"{unique('json')}.jpg"
    body = {
        "user_id": "alice",
        "image_data": f"data:image/jpeg;base64,{b64(data)}",
        "filename": "IMG_0042.JPG",
        "name": name,
        "title": "Grüße aus Köln",  # non-ASCII text must survive base64 and the JSON round trip
        "tags": "Cat, sunset,cat",
        "visibility": "public",
    }
    reply = alice.post("/images", json_body=body, base64=encoded)
    assert reply.event["isBase64Encoded"] is encoded
    assert reply.status == 201, reply.text
    assert reply.headers["content-type"] == "application/json; charset=utf-8"
    answer = reply.json()
    assert answer["message"] == "Image uploaded successfully"
    meta = answer["metadata"]
    assert answer["image_id"] == meta["image_id"]
    assert meta["user_id"] == "alice"
    assert meta["name"] == name and meta["filename"] == "IMG_0042.JPG"
    assert meta["title"] == "Grüße aus Köln"
    assert sorted(meta["tags"]) == ["cat", "sunset"]
    assert (meta["content_type"], meta["format"], meta["width"], meta["height"]) == (
        "image/jpeg",
        "JPEG",
        40,
        30,
    )
    assert meta["size"] == len(data)
    assert meta["checksum_sha256"] == hashlib.sha256(data).hexdigest()
    assert stored_bytes(stack, meta["s3_key"]) == data
    assert stack.stored(meta["image_id"]).name == name


def test_upload_through_the_compatibility_alias(alice: LambdaClient, version: Version) -> None:
    data = png()
    reply = alice.post("/api/v1/images", json_body={"user_id": "alice", "image_file": b64(data)})
    assert reply.status == 201, reply.text
    reply = alice.post("/upload", json_body={"user_id": "alice", "image_data": b64(data)})
    assert reply.status == 201, reply.text


def test_multipart_single_file(stack: Stack, alice: LambdaClient) -> None:
    data = png(24, 12)
    name = f"{unique('form')}.png"
    reply = alice.post(
        "/images",
        files=[("file", ("holiday photo.png", data, "image/png"))],
        data={"user_id": "alice", "name": name, "title": "From a form", "category": "travel"},
    )
    # API Gateway base64-encodes the multipart body: the bytes inside are binary.
    assert reply.event["isBase64Encoded"] is True
    assert reply.status == 201, reply.text
    meta = reply.json()["metadata"]
    assert (meta["name"], meta["filename"], meta["title"]) == (name, "holiday photo.png", "From a form")
    assert (meta["width"], meta["height"], meta["size"]) == (24, 12, len(data))
    assert meta["category"] == "travel"
    assert stored_bytes(stack, meta["s3_key"]) == data


def test_multipart_batch(stack: Stack, alice: LambdaClient) -> None:
    tag = unique("batch")
    files = [png(8, 8), jpeg(16, 16), png(9, 7)]
    reply = alice.post(
        "/images",
        files=[("files", (f"f{i}.bin", data, "application/octet-stream")) for i, data in enumerate(files)],
        data={"user_id": "alice", "tags": tag},
    )
    assert reply.event["isBase64Encoded"] is True
    assert reply.status == 201, reply.text
    images = reply.json()["images"]
    assert [i["filename"] for i in images] == ["f0.bin", "f1.bin", "f2.bin"]
    assert [i["content_type"] for i in images] == ["image/png", "image/jpeg", "image/png"]
    assert all(i["tags"] == [tag] for i in images)
    for meta, data in zip(images, files, strict=True):
        assert stored_bytes(stack, meta["s3_key"]) == data


def test_multipart_batch_with_a_bad_file_stores_nothing(stack: Stack, alice: LambdaClient) -> None:
    tag = unique("bad-batch")
    reply = alice.post(
        "/images",
        files=[
            ("files", ("ok.png", png(), "image/png")),
            ("files", ("notes.png", b"not an image", "image/png")),
        ],
        data={"user_id": "alice", "tags": tag},
    )
    assert "notes.png" in assert_error(reply, 415)
    listed = alice.get("/images", params={"tag": tag}).json()
    assert listed["images"] == []


def test_upload_for_someone_else_needs_an_admin(alice: LambdaClient, admin: LambdaClient) -> None:
    body = {"user_id": "bob", "image_data": b64(png())}
    assert_error(alice.post("/images", json_body=body), 403)
    reply = admin.post("/images", json_body=body)
    assert reply.status == 201, reply.text
    assert reply.json()["metadata"]["user_id"] == "bob"


def test_taken_name_is_409(alice: LambdaClient) -> None:
    name = f"{unique('taken')}.png"
    body = {"user_id": "alice", "image_data": b64(png()), "name": name}
    assert alice.post("/images", json_body=body).status == 201
    assert_error(alice.post("/images", json_body=body), 409)
