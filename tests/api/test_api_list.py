"""GET /images: filters, who sees what, limit and the cursor walk."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta, timezone
from typing import Any

import httpx
import pytest
from api_helpers import assert_error, iso_z, list_all, parse_iso, unique
from api_server import Upload

pytestmark = pytest.mark.api


@dataclass(frozen=True)
class Family:
    """Six images sharing one unique tag, made in this order (so newest first is reversed)."""

    tag: str
    images: dict[str, dict[str, Any]]

    def ids(self, *labels: str) -> list[str]:
        """Image ids of these labels, newest first."""
        return [self.images[label]["image_id"] for label in sorted(labels, key=ORDER.index, reverse=True)]


ORDER = ["a1", "a2", "a3", "b1", "b2", "d1"]
PUBLIC = ("a1", "a3", "b1")


@pytest.fixture(scope="module")
def family(alice: httpx.Client, bob: httpx.Client, admin: httpx.Client, upload: Upload) -> Family:
    tag = unique("fam")
    specs: dict[str, tuple[httpx.Client, dict[str, Any]]] = {
        "a1": (alice, {"tags": [tag, "red"], "category": "animals"}),
        "a2": (alice, {"tags": [tag, "blue"], "category": "animals", "visibility": "private"}),
        "a3": (alice, {"tags": [tag, "red", "blue"], "category": "plants"}),
        "b1": (bob, {"tags": [tag, "red"], "category": "animals"}),
        "b2": (bob, {"tags": [tag], "category": "plants", "visibility": "private"}),
        "d1": (admin, {"tags": [tag], "user_id": "dave", "visibility": "private"}),
    }
    images = {}
    for label in ORDER:
        client, fields = specs[label]
        images[label] = upload(client, **fields)
        time.sleep(0.012)  # distinct created_at (millisecond precision) for the time filters
    return Family(tag, images)


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [i["image_id"] for i in response.json()["images"]]


def test_answer_shape(anon: httpx.Client, family: Family) -> None:
    response = anon.get("/images", params={"tag": family.tag})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"images", "count", "has_more", "next_cursor", "last_evaluated_key"}
    assert body["count"] == len(body["images"]) == 3
    assert body["has_more"] is False
    assert body["next_cursor"] is None and body["last_evaluated_key"] is None
    # The upload's metadata plus the thumbnail's URL (tests/api/test_api_renditions.py).
    assert body["images"][0] == {**family.images["b1"], "thumbnail_url": body["images"][0]["thumbnail_url"]}


@pytest.mark.parametrize(
    ("caller", "expected"),
    [
        ("anon", PUBLIC),
        ("alice", (*PUBLIC, "a2")),
        ("bob", (*PUBLIC, "b2")),
        ("admin", tuple(ORDER)),
    ],
)
def test_who_sees_what(
    request: pytest.FixtureRequest, family: Family, caller: str, expected: tuple[str]
) -> None:
    client: httpx.Client = request.getfixturevalue(caller)
    assert ids(client.get("/images", params={"tag": family.tag})) == family.ids(*expected)


@pytest.mark.parametrize(
    ("caller", "expected"),
    [
        ("anon", ("a1", "a3")),
        ("alice", ("a1", "a2", "a3")),
        ("bob", ("a1", "a3")),
        ("admin", ("a1", "a2", "a3")),
    ],
)
def test_user_id_filter(
    request: pytest.FixtureRequest, family: Family, caller: str, expected: tuple[str]
) -> None:
    client: httpx.Client = request.getfixturevalue(caller)
    response = client.get("/images", params={"tag": family.tag, "user_id": "alice"})
    assert ids(response) == family.ids(*expected)
    assert all(i["user_id"] == "alice" for i in response.json()["images"])


def test_repeated_tag_means_every_tag(alice: httpx.Client, admin: httpx.Client, family: Family) -> None:
    assert ids(alice.get("/images", params={"tag": [family.tag, "red"]})) == family.ids("a1", "a3", "b1")
    assert ids(alice.get("/images", params={"tag": [family.tag, "red", "blue"]})) == family.ids("a3")
    assert ids(admin.get("/images", params={"tag": [family.tag, "blue"]})) == family.ids("a2", "a3")
    assert ids(admin.get("/images", params={"tag": [family.tag, "no-such-tag"]})) == []


def test_tags_is_a_comma_separated_alias(admin: httpx.Client, family: Family) -> None:
    assert ids(admin.get("/images", params={"tags": f"{family.tag},blue"})) == family.ids("a2", "a3")
    assert ids(admin.get("/images", params={"tags": f"{family.tag}, RED"})) == family.ids("a1", "a3", "b1")
    both = admin.get("/images", params={"tag": family.tag.upper(), "tags": "red,blue"})
    assert ids(both) == family.ids("a3")


def test_category_filter(anon: httpx.Client, admin: httpx.Client, family: Family) -> None:
    assert ids(anon.get("/images", params={"tag": family.tag, "category": "animals"})) == family.ids(
        "a1", "b1"
    )
    response = admin.get("/images", params={"tag": family.tag, "category": "plants"})
    assert ids(response) == family.ids("a3", "b2")


@pytest.mark.parametrize(
    ("caller", "visibility", "expected"),
    [
        ("anon", "public", PUBLIC),
        ("anon", "private", ()),
        ("alice", "private", ("a2",)),
        ("bob", "private", ("b2",)),
        ("admin", "private", ("a2", "b2", "d1")),
        ("admin", "public", PUBLIC),
    ],
)
def test_visibility_filter(
    request: pytest.FixtureRequest, family: Family, caller: str, visibility: str, expected: tuple[str]
) -> None:
    client: httpx.Client = request.getfixturevalue(caller)
    response = client.get("/images", params={"tag": family.tag, "visibility": visibility})
    assert ids(response) == family.ids(*expected)


def test_other_users_private_images_stay_hidden_even_when_asked_for(
    bob: httpx.Client, family: Family
) -> None:
    response = bob.get("/images", params={"tag": family.tag, "user_id": "alice", "visibility": "private"})
    assert ids(response) == []


def test_created_after_and_before(admin: httpx.Client, family: Family) -> None:
    def shifted(label: str, ms: int) -> str:
        return iso_z(parse_iso(family.images[label]["created_at"]) + timedelta(milliseconds=ms))

    after, before = shifted("a1", 5), shifted("b1", 5)
    params = {"tag": family.tag}
    assert ids(admin.get("/images", params={**params, "created_after": after})) == family.ids(*ORDER[1:])
    assert ids(admin.get("/images", params={**params, "created_before": before})) == family.ids(*ORDER[:4])
    window = admin.get("/images", params={**params, "created_after": after, "created_before": before})
    assert ids(window) == family.ids("a2", "a3", "b1")
    # Any ISO 8601 form with an offset names the same instant.
    plus_two = parse_iso(after).astimezone(timezone(timedelta(hours=2))).isoformat()
    assert ids(admin.get("/images", params={**params, "created_after": plus_two})) == family.ids(*ORDER[1:])


def test_every_filter_combined(alice: httpx.Client, family: Family) -> None:
    after = iso_z(parse_iso(family.images["a1"]["created_at"]) - timedelta(seconds=1))
    params = {
        "user_id": "alice",
        "tag": [family.tag, "red"],
        "category": "animals",
        "visibility": "public",
        "created_after": after,
        "created_before": "2999-01-01T00:00:00Z",
    }
    assert ids(alice.get("/images", params=params)) == family.ids("a1")
    params["category"] = "plants"
    assert ids(alice.get("/images", params=params)) == family.ids("a3")


def test_limit(admin: httpx.Client, family: Family) -> None:
    body = admin.get("/images", params={"tag": family.tag, "limit": 2}).json()
    assert body["count"] == 2 and [i["image_id"] for i in body["images"]] == family.ids("d1", "b2")
    assert body["has_more"] is True
    assert isinstance(body["next_cursor"], str) and body["next_cursor"]
    assert body["last_evaluated_key"] == body["next_cursor"]


@pytest.mark.parametrize(
    ("caller", "limit"), [("admin", 1), ("admin", 2), ("admin", 4), ("alice", 1), ("anon", 2)]
)
def test_cursor_walk_returns_each_image_once_newest_first(
    request: pytest.FixtureRequest, family: Family, caller: str, limit: int
) -> None:
    client: httpx.Client = request.getfixturevalue(caller)
    expected = ids(client.get("/images", params={"tag": family.tag}))
    seen: list[str] = []
    params: dict[str, Any] = {"tag": family.tag, "limit": limit}
    while True:
        body = client.get("/images", params=params).json()
        page = [i["image_id"] for i in body["images"]]
        assert body["count"] == len(page)
        seen.extend(page)
        if not body["has_more"]:
            assert body["next_cursor"] is None and body["last_evaluated_key"] is None
            assert len(page) <= limit
            break
        assert len(page) == limit, "a page with more to come must be full"
        assert body["next_cursor"] == body["last_evaluated_key"]
        params["cursor"] = body["next_cursor"]
    assert seen == expected
    assert len(set(seen)) == len(seen)


@pytest.mark.parametrize("alias", ["last_evaluated_key", "last_key"])
def test_cursor_aliases(admin: httpx.Client, family: Family, alias: str) -> None:
    first = admin.get("/images", params={"tag": family.tag, "limit": 2}).json()
    by_cursor = admin.get("/images", params={"tag": family.tag, "limit": 2, "cursor": first["next_cursor"]})
    by_alias = admin.get("/images", params={"tag": family.tag, "limit": 2, alias: first["next_cursor"]})
    assert ids(by_alias) == ids(by_cursor) == family.ids("b1", "a3")


def test_default_limit_is_20(admin: httpx.Client, upload: Upload) -> None:
    tag = unique("many")
    for _ in range(21):
        upload(admin, tags=[tag])
    body = admin.get("/images", params={"tag": tag}).json()
    assert body["count"] == 20 and body["has_more"] is True
    assert len(list_all(admin, tag=tag)) == 21


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "1.5", ""])
def test_bad_limit_is_400(anon: httpx.Client, limit: str) -> None:
    assert_error(anon.get("/images", params={"limit": limit}), 400)


def test_limit_bounds_are_accepted(anon: httpx.Client) -> None:
    assert anon.get("/images", params={"limit": 1}).status_code == 200
    assert anon.get("/images", params={"limit": 100}).status_code == 200


def test_bad_cursor_is_400(admin: httpx.Client, family: Family) -> None:
    cursor = admin.get("/images", params={"tag": family.tag, "limit": 1}).json()["next_cursor"]
    body, _, signature = cursor.partition(".")
    tampered_body = ("A" if body[0] != "A" else "B") + body[1:]
    tampered_signature = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    for bad in [
        "garbage",
        "abc.def",
        ".",
        "W10.x",
        f"{tampered_body}.{signature}",
        f"{body}.{tampered_signature}",
    ]:
        for name in ("cursor", "last_evaluated_key", "last_key"):
            assert_error(admin.get("/images", params={"tag": family.tag, name: bad}), 400)


def test_cursor_with_a_non_ascii_signature_is_400(anon: httpx.Client) -> None:
    assert_error(anon.get("/images", params={"cursor": "W10.\u00e9"}), 400)


@pytest.mark.parametrize(
    "other",
    [
        {"category": "animals"},
        {"tag": "red"},
        {"user_id": "alice"},
        {"visibility": "public"},
        {"created_after": "2000-01-01T00:00:00Z"},
    ],
)
def test_cursor_presented_with_other_filters_is_400(
    admin: httpx.Client, family: Family, other: dict[str, str]
) -> None:
    cursor = admin.get("/images", params={"tag": family.tag, "limit": 1}).json()["next_cursor"]
    params = {"tag": family.tag, "cursor": cursor, **other}
    if "tag" in other:
        params["tag"] = [family.tag, other["tag"]]
    assert_error(admin.get("/images", params=params), 400)


def test_cursor_with_another_limit_is_fine(admin: httpx.Client, family: Family) -> None:
    cursor = admin.get("/images", params={"tag": family.tag, "limit": 1}).json()["next_cursor"]
    assert ids(admin.get("/images", params={"tag": family.tag, "limit": 10, "cursor": cursor})) == family.ids(
        *ORDER[:5]
    )


@pytest.mark.parametrize(
    "params",
    [
        {"created_after": "not-a-date"},
        {"created_before": "yesterday"},
        {"created_after": "2026-13-45T00:00:00Z"},
        {"created_after": "0001-01-01T00:00:00+01:00"},
        {"created_before": "9999-12-31T23:59:59-01:00"},
        {"created_after": "2026-02-01T00:00:00Z", "created_before": "2026-01-01T00:00:00Z"},
        {"visibility": "friends"},
        {"user_id": "no/slashes"},
        {"tag": "x" * 51},
        {"created_after": "1" * 40},
        {"created_after": "20260101"},
        {"created_before": "2026-01-01T12"},
        {"created_before": "2026-01-01T12:00:00.1234567890Z"},
        {"created_after": "2026-01-01T12:00:00+0100x"},
    ],
    ids=[
        "after",
        "before",
        "impossible-date",
        "before-year-1",
        "after-year-9999",
        "after-past-before",
        "visibility",
        "user_id",
        "long-tag",
        "forty-digits",
        "basic-format",
        "hour-only",
        "ten-digit-fraction",
        "trailing-junk",
    ],
)
def test_bad_filter_is_400(anon: httpx.Client, params: dict[str, str]) -> None:
    assert_error(anon.get("/images", params=params), 400)
