"""PATCH /images/{id}: the owner (or an admin) changes metadata; others are refused."""

from __future__ import annotations

import httpx
import pytest
from api_helpers import assert_error, parse_iso, unique
from api_server import NothingStored, Upload

pytestmark = pytest.mark.api


def test_owner_updates_title_tags_visibility_and_name(
    alice: httpx.Client, anon: httpx.Client, upload: Upload
) -> None:
    old_tag, new_tag = unique("old"), unique("new")
    meta = upload(alice, title="before", tags=[old_tag], description="desc", category="misc")
    new_name = f"{unique('renamed')}.png"
    response = alice.patch(
        f"/images/{meta['image_id']}",
        json={"title": "after", "tags": f"{new_tag.upper()}, shiny,{new_tag}", "visibility": "private",
              "name": new_name},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"message", "image_id", "metadata"}
    assert isinstance(body["message"], str) and body["message"]
    assert body["image_id"] == meta["image_id"]
    updated = body["metadata"]
    assert updated["title"] == "after"
    assert updated["tags"] == [new_tag, "shiny"]
    assert updated["visibility"] == "private"
    assert updated["name"] == new_name
    # Untouched fields stay, the bytes' facts stay, updated_at moves on.
    for field in ("description", "category", "created_at", "checksum_sha256", "size", "s3_key", "user_id"):
        assert updated[field] == meta[field], field
    assert parse_iso(updated["updated_at"]) > parse_iso(meta["updated_at"])
    # A later read sees the change: metadata, the new name, the new tags (and not the old ones).
    assert alice.get(f"/images/{meta['image_id']}").json()["metadata"] == updated
    assert alice.get(f"/{new_name}").status_code == 200
    assert_error(alice.get(f"/{meta['name']}"), 404)
    assert [i["image_id"] for i in alice.get("/images", params={"tag": new_tag}).json()["images"]] == [
        meta["image_id"]
    ]
    assert alice.get("/images", params={"tag": old_tag}).json()["images"] == []
    # Now private: gone for anonymous callers.
    assert_error(anon.get(f"/images/{meta['image_id']}"), 404)
    assert anon.get("/images", params={"tag": new_tag}).json()["images"] == []


def test_description_and_category_can_be_changed_and_category_cleared(
    alice: httpx.Client, upload: Upload
) -> None:
    meta = upload(alice, category="pets")
    response = alice.patch(f"/images/{meta['image_id']}", json={"description": "new words", "category": None})
    assert response.status_code == 200, response.text
    assert response.json()["metadata"]["description"] == "new words"
    assert response.json()["metadata"]["category"] is None


def test_admin_may_update_any_image(admin: httpx.Client, bob: httpx.Client, upload: Upload) -> None:
    meta = upload(bob, visibility="private")
    response = admin.patch(f"/images/{meta['image_id']}", json={"title": "by admin"})
    assert response.status_code == 200 and response.json()["metadata"]["title"] == "by admin"


def test_other_user_is_forbidden_on_public_and_not_found_on_private(
    alice: httpx.Client, bob: httpx.Client, upload: Upload
) -> None:
    public, private = upload(alice), upload(alice, visibility="private")
    assert_error(bob.patch(f"/images/{public['image_id']}", json={"title": "mine now"}), 403)
    assert_error(bob.patch(f"/images/{private['image_id']}", json={"title": "mine now"}), 404)
    assert alice.get(f"/images/{public['image_id']}").json()["metadata"] == public


def test_update_without_a_key_is_401(anon: httpx.Client, alice: httpx.Client, upload: Upload) -> None:
    meta = upload(alice)
    assert_error(anon.patch(f"/images/{meta['image_id']}", json={"title": "anon"}), 401)


def test_taken_name_is_a_conflict(alice: httpx.Client, upload: Upload) -> None:
    first = upload(alice, name=f"{unique('first')}.png")
    second = upload(alice)
    assert_error(alice.patch(f"/images/{second['image_id']}", json={"name": first["name"]}), 409)
    assert alice.get(f"/images/{second['image_id']}").json()["metadata"] == second
    # Renaming an image to its own name is not a conflict.
    assert alice.patch(f"/images/{first['image_id']}", json={"name": first["name"]}).status_code == 200


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 400),
        ({"colour": "red"}, 400),
        ({"title": "ok", "owner": "bob"}, 400),
        ({"user_id": "bob"}, 400),
        ({"title": "t" * 201}, 400),
        ({"tags": [f"t{i}" for i in range(21)]}, 400),
        ({"visibility": "friends"}, 400),
        ({"name": ".hidden"}, 400),
        ({"name": "a/b"}, 400),
        ({"title": None}, 400),
        ({"tags": 5}, 400),
    ],
    ids=[
        "empty",
        "unknown",
        "unknown-beside-known",
        "owner-change",
        "long-title",
        "21-tags",
        "visibility",
        "dot-name",
        "slash-name",
        "null-title",
        "tags-number",
    ],
)
def test_bad_update_is_400_and_changes_nothing(
    alice: httpx.Client, upload: Upload, body: dict[str, object], status: int
) -> None:
    meta = upload(alice)
    assert_error(alice.patch(f"/images/{meta['image_id']}", json=body), status)
    assert alice.get(f"/images/{meta['image_id']}").json()["metadata"] == meta


def test_update_with_a_body_that_is_not_json_is_400(alice: httpx.Client, upload: Upload) -> None:
    meta = upload(alice)
    response = alice.patch(
        f"/images/{meta['image_id']}", content=b"title=x", headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400)
    assert_error(alice.patch(f"/images/{meta['image_id']}"), 400)


def test_update_of_an_unknown_image_is_404(alice: httpx.Client, nothing_stored: NothingStored) -> None:
    with nothing_stored():
        assert_error(alice.patch("/images/00000000-0000-4000-8000-000000000000", json={"title": "x"}), 404)
