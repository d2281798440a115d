"""Direct upload over HTTP: POST /images/uploads, PUT the bytes to the signed URL, complete."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from api_helpers import assert_error, blob_files, jpeg, png, unique
from api_server import NothingStored, Server

pytestmark = pytest.mark.api


def start(client: httpx.Client, size: int, **fields: Any) -> dict[str, Any]:
    body = {"filename": "big.png", "content_type": "image/png", "size": size, **fields}
    response = client.post("/images/uploads", json=body)
    assert response.status_code == 201, response.text
    answer = dict(response.json())
    assert set(answer) == {"image_id", "upload", "expires_in"}
    assert answer["upload"]["method"] == "PUT"
    assert answer["expires_in"] > 0
    return answer


def send(answer: dict[str, Any], data: bytes) -> httpx.Response:
    target = answer["upload"]
    return httpx.request(target["method"], target["url"], content=data, headers=target.get("headers") or {})


def test_direct_upload_round_trip(alice: httpx.Client, anon: httpx.Client) -> None:
    data = png(40, 30)
    name = f"{unique('direct')}.png"
    answer = start(alice, len(data), name=name, tags=["Big", "big"], title="direct")
    assert send(answer, data).status_code == 200
    done = alice.post(f"/images/{answer['image_id']}/complete")
    assert done.status_code == 201, done.text
    body = done.json()
    assert body["message"] == "Image uploaded successfully"
    meta = body["metadata"]
    assert (meta["name"], meta["tags"], meta["width"], meta["height"], meta["size"]) == (
        name,
        ["big"],
        40,
        30,
        len(data),
    )
    assert anon.get(f"/{name}").content == data


def test_invalid_bytes_are_refused_and_deleted(server: Server, alice: httpx.Client) -> None:
    before = blob_files(server.data_dir)
    answer = start(alice, 100)
    assert send(answer, b"<svg xmlns='http://www.w3.org/2000/svg'/>").status_code == 200
    assert_error(alice.post(f"/images/{answer['image_id']}/complete"), 415)
    assert blob_files(server.data_dir) == before
    assert_error(alice.get(f"/images/{answer['image_id']}"), 404)


def test_bytes_larger_than_declared_are_refused(server: Server, alice: httpx.Client) -> None:
    data = jpeg(64, 64)
    before = blob_files(server.data_dir)
    answer = start(alice, len(data) - 1, content_type="image/jpeg")
    assert_error(send(answer, data), 413)
    assert blob_files(server.data_dir) == before


def test_altered_upload_url_is_refused(alice: httpx.Client) -> None:
    answer = start(alice, 1000)
    answer["upload"]["url"] = answer["upload"]["url"].replace("signature=", "signature=x")
    assert_error(send(answer, png()), 403)


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"content_type": "image/svg+xml"}, 415),
        ({"size": 0}, 400),
        ({"size": 11 * 1024 * 1024}, 413),
        ({"name": ".hidden"}, 400),
        ({"unknown": 1}, 400),
        ({"user_id": "bob"}, 403),
    ],
)
def test_bad_start_requests(
    alice: httpx.Client, nothing_stored: NothingStored, fields: dict[str, Any], status: int
) -> None:
    body = {"filename": "x.png", "content_type": "image/png", "size": 100, **fields}
    with nothing_stored():
        assert_error(alice.post("/images/uploads", json=body), status)


def test_start_needs_a_key_and_complete_needs_the_owner(
    anon: httpx.Client, alice: httpx.Client, bob: httpx.Client
) -> None:
    body = {"filename": "x.png", "content_type": "image/png", "size": 100}
    assert_error(anon.post("/images/uploads", json=body), 401)
    answer = start(alice, len(png()))
    assert send(answer, png()).status_code == 200
    assert_error(bob.post(f"/images/{answer['image_id']}/complete"), 404)
    assert_error(anon.post(f"/images/{answer['image_id']}/complete"), 401)
    assert_error(alice.post("/images/not-a-pending-upload/complete"), 404)
    assert alice.post(f"/images/{answer['image_id']}/complete").status_code == 201
