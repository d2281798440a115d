"""Listing through API Gateway: repeated `tag` parameters arrive as v1
multiValueQueryStringParameters or in the v2 rawQueryString, and the opaque cursor survives both
the trip out (in a JSON body) and back in (as a query parameter)."""

from __future__ import annotations

from typing import Any

import pytest
from api_helpers import png, unique
from apigw import LambdaClient, Version
from lambda_helpers import Stack, assert_error, upload


@pytest.fixture(scope="module")
def tagged(stack: Stack) -> dict[str, Any]:
    """Seven images of alice's sharing tag `common`; five of them also carry `both`, one of those
    private; bob's image has `both` only. Uploaded once (the listing tests only read)."""
    alice, bob = stack.client("v2", "alice"), stack.client("v1", "bob")
    common, both = unique("common"), unique("both")
    ids: dict[str, list[str]] = {"both": [], "common": []}
    for i in range(7):
        tags = [common, both] if i < 5 else [common]
        visibility = "private" if i == 0 else "public"
        meta = upload(alice, png(), tags=tags, visibility=visibility, title=f"n{i}")
        ids["common"].append(meta["image_id"])
        if i < 5:
            ids["both"].append(meta["image_id"])
    meta = upload(bob, png(), user_id="bob", tags=[both])  # only one of the two tags
    return {"common": common, "both": both, "ids": ids, "bob": meta["image_id"]}


def walk(client: LambdaClient, params: dict[str, Any]) -> tuple[list[str], list[int]]:
    """Every image id over all pages (checked to be newest first), and the size of each page."""
    images: list[dict[str, Any]] = []
    sizes: list[int] = []
    query = dict(params)
    for _ in range(50):
        reply = client.get("/images", params=query)
        assert reply.status == 200, reply.text
        body = reply.json()
        assert body["count"] == len(body["images"])
        assert body["last_evaluated_key"] == body["next_cursor"]
        assert body["images"] or not body["has_more"], "an empty page that claims more"
        images.extend(body["images"])
        sizes.append(body["count"])
        if not body["has_more"]:
            assert body["next_cursor"] is None
            order = [(i["created_at"], i["image_id"]) for i in images]
            assert order == sorted(order, reverse=True)
            return [i["image_id"] for i in images], sizes
        assert isinstance(body["next_cursor"], str) and body["next_cursor"]
        query["cursor"] = body["next_cursor"]
    raise AssertionError("the cursor never ended")


def test_repeated_tag_reaches_the_app(alice: LambdaClient, tagged: dict[str, Any], version: Version) -> None:
    params = {"tag": [tagged["common"], tagged["both"]], "limit": "100"}
    reply = alice.get("/images", params=params)
    assert reply.status == 200, reply.text
    if version == "v1":
        query = reply.event["multiValueQueryStringParameters"]
        assert query["tag"] == [tagged["common"], tagged["both"]]
        # queryStringParameters keeps only the last value: reading it would lose a filter.
        assert reply.event["queryStringParameters"]["tag"] == tagged["both"]
    else:
        assert reply.event["rawQueryString"] == f"tag={tagged['common']}&tag={tagged['both']}&limit=100"
        assert reply.event["queryStringParameters"]["tag"] == f"{tagged['common']},{tagged['both']}"
    got = [i["image_id"] for i in reply.json()["images"]]
    assert sorted(got) == sorted(tagged["ids"]["both"])  # every tag must match: not bob's, not 5 and 6


def test_cursor_paging_with_repeated_tags(alice: LambdaClient, tagged: dict[str, Any]) -> None:
    ids, sizes = walk(alice, {"tag": [tagged["both"], tagged["common"]], "limit": "2"})
    assert sorted(ids) == sorted(tagged["ids"]["both"])  # each exactly once
    assert sizes == [2, 2, 1]


def test_cursor_paging_as_anonymous(anon: LambdaClient, tagged: dict[str, Any]) -> None:
    ids, sizes = walk(anon, {"tag": tagged["common"], "limit": "3"})
    assert sorted(ids) == sorted(tagged["ids"]["common"][1:])  # not the private one
    assert sizes == [3, 3]


def test_tags_alias_and_other_filters(admin: LambdaClient, tagged: dict[str, Any]) -> None:
    reply = admin.get("/images", params={"tags": f"{tagged['both']},{tagged['common']}", "user_id": "alice"})
    assert reply.status == 200, reply.text
    assert sorted(i["image_id"] for i in reply.json()["images"]) == sorted(tagged["ids"]["both"])
    reply = admin.get("/images", params={"tag": tagged["both"], "user_id": "bob"})
    assert [i["image_id"] for i in reply.json()["images"]] == [tagged["bob"]]
    reply = admin.get("/images", params={"tag": tagged["common"], "visibility": "private"})
    assert [i["image_id"] for i in reply.json()["images"]] == [tagged["ids"]["common"][0]]


def test_cursor_with_other_filters_is_400(alice: LambdaClient, tagged: dict[str, Any]) -> None:
    first = alice.get("/images", params={"tag": tagged["common"], "limit": "2"}).json()
    assert first["has_more"]
    reply = alice.get("/images", params={"tag": tagged["both"], "limit": "2", "cursor": first["next_cursor"]})
    assert_error(reply, 400)
    tampered = first["next_cursor"][:-2] + ("AA" if not first["next_cursor"].endswith("AA") else "BB")
    reply = alice.get("/images", params={"tag": tagged["common"], "limit": "2", "cursor": tampered})
    assert_error(reply, 400)


def test_cursor_alias_last_evaluated_key(alice: LambdaClient, tagged: dict[str, Any]) -> None:
    first = alice.get("/images", params={"tag": tagged["common"], "limit": "4"}).json()
    second = alice.get(
        "/images", params={"tag": tagged["common"], "limit": "4", "last_evaluated_key": first["next_cursor"]}
    ).json()
    ids = [i["image_id"] for i in first["images"] + second["images"]]
    assert sorted(ids) == sorted(tagged["ids"]["common"])
    assert second["has_more"] is False
