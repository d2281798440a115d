"""Fields that clients of older image services send are understood, never silently dropped
(API.md: Upload, List): `is_public`, `width`/`height`, unknown fields and list parameters."""

from __future__ import annotations

import httpx
import pytest
from api_helpers import assert_error, b64, list_all, png, unique, uploaded
from api_server import NothingStored

pytestmark = pytest.mark.api


@pytest.mark.parametrize(("is_public", "visibility"), [(False, "private"), (True, "public")])
def test_is_public_in_json_is_the_visibility(
    alice: httpx.Client, anon: httpx.Client, is_public: bool, visibility: str
) -> None:
    meta = uploaded(alice.post("/images", json={"image_data": b64(png()), "is_public": is_public}))
    assert meta["visibility"] == visibility
    seen_by_anonymous = anon.get(f"/images/{meta['image_id']}").status_code
    assert seen_by_anonymous == (200 if is_public else 404)


@pytest.mark.parametrize(("is_public", "visibility"), [("false", "private"), ("true", "public")])
def test_is_public_in_a_form_is_the_visibility(alice: httpx.Client, is_public: str, visibility: str) -> None:
    for path in ("/images", "/upload", "/api/v1/images"):
        files = {"file": ("a.png", png(), "image/png")}
        meta = uploaded(alice.post(path, files=files, data={"is_public": is_public}))
        assert meta["visibility"] == visibility, path


def test_is_public_that_contradicts_visibility_is_400(
    alice: httpx.Client, nothing_stored: NothingStored
) -> None:
    with nothing_stored():
        body = {"image_data": b64(png()), "is_public": False, "visibility": "public"}
        assert "is_public" in assert_error(alice.post("/images", json=body), 400)
        form = {"is_public": "true", "visibility": "private"}
        assert_error(alice.post("/images", files={"file": ("a.png", png())}, data=form), 400)


def test_is_public_in_patch_is_the_visibility(alice: httpx.Client, anon: httpx.Client) -> None:
    meta = uploaded(alice.post("/images", json={"image_data": b64(png())}))
    patched = alice.patch(f"/images/{meta['image_id']}", json={"is_public": False})
    assert patched.status_code == 200, patched.text
    assert patched.json()["metadata"]["visibility"] == "private"
    assert_error(anon.get(f"/images/{meta['image_id']}"), 404)


def test_width_and_height_are_accepted_and_the_measured_ones_stored(alice: httpx.Client) -> None:
    body = {"image_data": b64(png(8, 8)), "width": 4032, "height": 3024}
    meta = uploaded(alice.post("/images", json=body))
    assert (meta["width"], meta["height"]) == (8, 8)
    form = {"width": "4032", "height": "3024"}
    meta = uploaded(alice.post("/images", files={"file": ("a.png", png(8, 8))}, data=form))
    assert (meta["width"], meta["height"]) == (8, 8)


def test_an_unknown_form_field_is_400_naming_it(alice: httpx.Client, nothing_stored: NothingStored) -> None:
    with nothing_stored():
        response = alice.post("/images", files={"file": ("a.png", png())}, data={"colour": "red"})
        assert "colour" in assert_error(response, 400)
        response = alice.post("/images", files={"file": ("a.png", png())}, data={"title": ["a", "b"]})
        assert "title" in assert_error(response, 400)


@pytest.mark.parametrize("params", [{"tagz": "x"}, {"page": "2", "tag": "x"}, {"title": "", "tag": "x"}])
def test_unknown_or_unsupported_list_parameters_are_400_naming_them(
    anon: httpx.Client, params: dict[str, str]
) -> None:
    message = assert_error(anon.get("/images", params=params), 400)
    assert next(k for k in params if k != "tag") in message


def test_title_and_description_filters_are_searches(alice: httpx.Client, anon: httpx.Client) -> None:
    """Older clients send ``?title=Sample`` and ``?description=...``: word search in that field."""
    word = unique("legacy").replace("-", "")
    titled = uploaded(alice.post("/images", json={"image_data": b64(png()), "title": f"Sample {word}"}))
    described = uploaded(
        alice.post("/images", json={"image_data": b64(png()), "description": f"A cat called {word}"})
    )
    assert [i["image_id"] for i in list_all(anon, title=f"sample {word}")] == [titled["image_id"]]
    assert [i["image_id"] for i in list_all(anon, description=f"cat {word}")] == [described["image_id"]]


def test_is_public_filters_the_list(alice: httpx.Client, admin: httpx.Client) -> None:
    tag = unique("legacy")
    public = uploaded(alice.post("/images", json={"image_data": b64(png()), "tags": [tag]}))
    private = uploaded(
        alice.post("/images", json={"image_data": b64(png()), "tags": [tag], "visibility": "private"})
    )
    assert [i["image_id"] for i in list_all(admin, tag=tag, is_public="true")] == [public["image_id"]]
    assert [i["image_id"] for i in list_all(admin, tag=tag, is_public="false")] == [private["image_id"]]
    assert_error(admin.get("/images", params={"is_public": "false", "visibility": "public"}), 400)
    assert_error(admin.get("/images", params={"is_public": "maybe"}), 400)
