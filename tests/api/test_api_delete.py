"""DELETE /images/{id} and bulk DELETE /images: bytes, metadata and index entries all go."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from api_helpers import assert_error, list_all, unique
from api_server import NothingStored, Server, Upload

pytestmark = pytest.mark.api


def bulk(client: httpx.Client, body: object) -> httpx.Response:
    return client.request("DELETE", "/images", json=body)


@pytest.mark.parametrize("path", ["/images/{id}", "/image/{id}", "/api/v1/images/{id}"])
def test_delete_removes_everything(
    server: Server, alice: httpx.Client, anon: httpx.Client, upload: Upload, path: str
) -> None:
    tag = unique("del")
    meta = upload(alice, tags=[tag], name=f"{unique('gone')}.png")
    assert server.storage.has_blob(meta["s3_key"])
    url = str(alice.get(f"/images/{meta['image_id']}").json()["url"])

    response = alice.delete(path.format(id=meta["image_id"]))
    assert response.status_code == 200, response.text
    assert response.json() == {"message": "Image deleted successfully", "image_id": meta["image_id"]}

    assert not server.storage.has_blob(meta["s3_key"])
    for client in (alice, anon):
        assert_error(client.get(f"/images/{meta['image_id']}"), 404)
        assert_error(client.get(f"/images/{meta['image_id']}/content"), 404)
        assert_error(client.get(f"/{meta['name']}"), 404)
        assert client.get("/images", params={"tag": tag}).json()["images"] == []
    assert all(i["image_id"] != meta["image_id"] for i in list_all(alice, user_id="alice"))
    assert httpx.get(url).status_code in server.traits.deleted_url_statuses
    # The name is free again.
    assert upload(alice, name=meta["name"])["name"] == meta["name"]


def test_delete_twice_is_404(alice: httpx.Client, upload: Upload) -> None:
    meta = upload(alice)
    assert alice.delete(f"/images/{meta['image_id']}").status_code == 200
    assert_error(alice.delete(f"/images/{meta['image_id']}"), 404)
    assert_error(alice.delete(f"/images/{uuid.uuid4()}"), 404)


def test_delete_by_another_user(
    alice: httpx.Client, bob: httpx.Client, upload: Upload, nothing_stored: NothingStored
) -> None:
    public, private = upload(alice), upload(alice, visibility="private")
    with nothing_stored():
        assert_error(bob.delete(f"/images/{public['image_id']}"), 403)
        assert_error(bob.delete(f"/images/{private['image_id']}"), 404)


def test_delete_without_a_key_is_401(alice: httpx.Client, anon: httpx.Client, upload: Upload) -> None:
    meta = upload(alice)
    assert_error(anon.delete(f"/images/{meta['image_id']}"), 401)
    assert alice.get(f"/images/{meta['image_id']}").status_code == 200


def test_admin_may_delete_any_image(
    server: Server, admin: httpx.Client, bob: httpx.Client, upload: Upload
) -> None:
    meta = upload(bob, visibility="private")
    assert admin.delete(f"/images/{meta['image_id']}").status_code == 200
    assert not server.storage.has_blob(meta["s3_key"])


def test_bulk_delete_with_mixed_ids(
    server: Server, alice: httpx.Client, bob: httpx.Client, upload: Upload
) -> None:
    mine = [upload(alice), upload(alice, visibility="private")]
    bobs_public, bobs_private = upload(bob), upload(bob, visibility="private")
    missing = str(uuid.uuid4())
    ids = [
        mine[0]["image_id"],
        bobs_public["image_id"],
        missing,
        bobs_private["image_id"],
        mine[1]["image_id"],
    ]
    response = bulk(alice, {"image_ids": ids})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"deleted", "failed"}
    assert sorted(body["deleted"]) == sorted(m["image_id"] for m in mine)
    assert sorted(body["failed"], key=lambda f: f["image_id"]) == sorted(
        [
            {"image_id": bobs_public["image_id"], "reason": "forbidden"},
            {"image_id": missing, "reason": "not_found"},
            {"image_id": bobs_private["image_id"], "reason": "not_found"},
        ],
        key=lambda f: f["image_id"],
    )
    for meta in mine:
        assert_error(alice.get(f"/images/{meta['image_id']}"), 404)
        assert not server.storage.has_blob(meta["s3_key"])
    for meta in (bobs_public, bobs_private):
        assert bob.get(f"/images/{meta['image_id']}").status_code == 200
        assert server.storage.has_blob(meta["s3_key"])


def test_bulk_delete_with_own_user_id(alice: httpx.Client, upload: Upload) -> None:
    meta = upload(alice)
    response = bulk(alice, {"image_ids": [meta["image_id"]], "user_id": "alice"})
    assert response.status_code == 200
    assert response.json() == {"deleted": [meta["image_id"]], "failed": []}


def test_bulk_delete_user_id_of_someone_else_is_403(
    alice: httpx.Client, upload: Upload, nothing_stored: NothingStored
) -> None:
    meta = upload(alice)
    with nothing_stored():
        assert_error(bulk(alice, {"image_ids": [meta["image_id"]], "user_id": "bob"}), 403)


@pytest.mark.parametrize(
    "body",
    [
        {"image_ids": []},
        {"image_ids": [str(uuid.uuid4()) for _ in range(101)]},
        {},
        {"image_ids": "not-a-list"},
        {"image_ids": ["x"], "colour": "red"},
        [],
    ],
    ids=["none", "101", "missing", "string", "unknown-field", "array"],
)
def test_bad_bulk_delete_is_400(alice: httpx.Client, nothing_stored: NothingStored, body: object) -> None:
    with nothing_stored():
        assert_error(bulk(alice, body), 400)


def test_bulk_delete_of_100_ids_is_allowed(alice: httpx.Client) -> None:
    response = bulk(alice, {"image_ids": [str(uuid.uuid4()) for _ in range(100)]})
    assert response.status_code == 200
    body = response.json()
    assert body["deleted"] == [] and len(body["failed"]) == 100
    assert {f["reason"] for f in body["failed"]} == {"not_found"}


def test_bulk_delete_without_a_key_is_401(anon: httpx.Client, nothing_stored: NothingStored) -> None:
    with nothing_stored():
        assert_error(bulk(anon, {"image_ids": [str(uuid.uuid4())]}), 401)


def test_bulk_delete_with_an_id_that_is_not_valid_unicode(alice: httpx.Client, upload: Upload) -> None:
    meta = upload(alice)
    body = json.dumps({"image_ids": [meta["image_id"], "\ud800"]}).encode()  # ASCII: "\\ud800"
    response = alice.request("DELETE", "/images", content=body, headers={"Content-Type": "application/json"})
    if response.status_code == 200:
        assert response.json() == {
            "deleted": [meta["image_id"]],
            "failed": [{"image_id": "\ud800", "reason": "not_found"}],
        }
    else:
        assert_error(response, 400)
        assert alice.get(f"/images/{meta['image_id']}").status_code == 200
