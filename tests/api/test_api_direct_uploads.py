"""Direct upload over HTTP: POST /images/uploads, send the bytes where it says, complete.

The bytes go wherever the service says: the embedded backend's signed PUT, or a presigned S3 POST
(a multipart form: the given fields, then ``file``). moto, the S3 here, does not check the POST's
signature or policy conditions, so on aws the tests check the policy the service asks for and
that ``complete`` validates what was stored; refusals by the upload URL itself are tested on local.
"""

from __future__ import annotations

import base64
import json
import math
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from api_helpers import assert_error, jpeg, png, unique
from api_server import MOTO_SIGNATURES, NothingStored, Server

pytestmark = pytest.mark.api

# What a successful send answers: our PUT route 200, S3's POST its default success_action_status.
SENT = {"PUT": 200, "POST": 204}


def start(client: httpx.Client, size: int, **fields: Any) -> dict[str, Any]:
    body = {"filename": "big.png", "content_type": "image/png", "size": size, **fields}
    response = client.post("/images/uploads", json=body)
    assert response.status_code == 201, response.text
    answer = dict(response.json())
    assert set(answer) == {"image_id", "upload", "expires_in"}
    target = answer["upload"]
    if target["method"] == "PUT":
        assert set(target) == {"url", "method", "headers"}
        assert target["headers"] == {"Content-Type": body["content_type"]}
    else:
        assert target["method"] == "POST" and set(target) == {"url", "method", "fields"}
        assert target["fields"]["Content-Type"] == body["content_type"]
        assert {"key", "policy", "x-amz-signature"} <= set(target["fields"])
    assert answer["expires_in"] > 0
    return answer


def send(answer: dict[str, Any], data: bytes) -> httpx.Response:
    target = answer["upload"]
    if target["method"] == "POST":
        files = {"file": ("upload", data, target["fields"]["Content-Type"])}
        return httpx.post(target["url"], data=target["fields"], files=files)
    return httpx.request(target["method"], target["url"], content=data, headers=target.get("headers") or {})


def sent(answer: dict[str, Any], data: bytes) -> None:
    response = send(answer, data)
    assert response.status_code == SENT[answer["upload"]["method"]], response.text


def test_the_upload_target_is_the_backends(server: Server, alice: httpx.Client) -> None:
    answer = start(alice, 100)
    assert answer["upload"]["method"] == server.traits.upload_method
    assert answer["upload"]["url"].partition("?")[0] == server.upload_url_path(answer["image_id"])


def test_direct_upload_round_trip(server: Server, alice: httpx.Client, anon: httpx.Client) -> None:
    data = png(40, 30)
    name = f"{unique('direct')}.png"
    answer = start(alice, len(data), name=name, tags=["Big", "big"], title="direct")
    sent(answer, data)
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
    # The bytes moved from the pending prefix (which a lifecycle rule expires) to the image's key.
    image_id = answer["image_id"]
    assert server.storage.read_blob(f"alice/{image_id}") == data
    assert not server.storage.has_blob(f"~pending/alice/{image_id}")


def test_a_replayed_start_of_an_unfinished_upload_can_be_finished(
    server: Server, alice: httpx.Client, admin: httpx.Client
) -> None:
    """A replay under the start's Idempotency-Key answers the same image id with a fresh upload
    URL and expiry (the first one may be dead: a key lives a day, a URL an hour; the expiry
    itself is tested on a clock in tests/unit/services/test_direct_uploads.py). Once the image
    is completed, a replay is the first answer again, and the image is stored once."""
    data = png(24, 24)
    title = unique("replayed").replace("-", "")
    keyed = {"Idempotency-Key": unique("key")}
    body = {"filename": "big.png", "content_type": "image/png", "size": len(data), "title": title}
    first = alice.post("/images/uploads", json=body, headers=keyed)
    assert first.status_code == 201, first.text
    again = alice.post("/images/uploads", json=body, headers=keyed)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["image_id"] == first.json()["image_id"]
    assert again.json()["expires_in"] == first.json()["expires_in"]
    sent(again.json(), data)
    done = alice.post(f"/images/{first.json()['image_id']}/complete")
    assert done.status_code == 201, done.text
    assert done.json()["metadata"]["size"] == len(data)
    after = alice.post("/images/uploads", json=body, headers=keyed)
    assert after.status_code == 201 and after.json() == first.json()
    assert [i["image_id"] for i in admin.get("/images", params={"q": title}).json()["images"]] == [
        first.json()["image_id"]
    ]


def test_invalid_bytes_are_refused_and_deleted(server: Server, alice: httpx.Client) -> None:
    # On aws the snapshot holds the table too: the pending upload's record must go as well.
    before = server.storage.snapshot()
    answer = start(alice, 100)
    sent(answer, b"<svg xmlns='http://www.w3.org/2000/svg'/>")
    assert_error(alice.post(f"/images/{answer['image_id']}/complete"), 415)
    assert server.storage.snapshot() == before
    assert_error(alice.get(f"/images/{answer['image_id']}"), 404)


def test_bytes_larger_than_declared_are_refused(server: Server, alice: httpx.Client) -> None:
    data = jpeg(64, 64)
    before = server.storage.snapshot()
    answer = start(alice, len(data) - 1, content_type="image/jpeg")
    sent = send(answer, data)
    if server.traits.signs_own_urls:
        assert_error(sent, 413)  # our own upload route refuses while receiving
    else:
        # S3 would refuse it by the POST policy; moto does not, so completion must.
        assert sent.status_code in (200, 204), sent.text
        assert_error(alice.post(f"/images/{answer['image_id']}/complete"), 413)
    assert server.storage.snapshot() == before


@pytest.mark.only_backend("aws", reason="only a presigned S3 POST carries a policy")
def test_the_presigned_post_pins_key_type_size_and_expiry(server: Server, alice: httpx.Client) -> None:
    # What S3 enforces on AWS (moto does not): the policy the service signs is the whole guard.
    before = time.time()
    answer = start(alice, 1234, content_type="image/jpeg")
    after = time.time()
    fields = answer["upload"]["fields"]
    # Under the prefix the deploy template's lifecycle rule expires, never an image's own key.
    assert fields["key"] == f"~pending/alice/{answer['image_id']}"
    policy = json.loads(base64.b64decode(fields["policy"]))
    conditions = policy["conditions"]
    assert ["content-length-range", 1, 1234] in conditions
    assert {"Content-Type": "image/jpeg"} in conditions
    assert {"key": fields["key"]} in conditions
    assert {"bucket": server.env["BUCKET_NAME"]} in conditions
    expiration = datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    seconds = answer["expires_in"]
    assert math.floor(before) + seconds <= expiration.timestamp() <= math.ceil(after) + seconds


@pytest.mark.only_backend("local", reason=MOTO_SIGNATURES)
def test_altered_upload_url_is_refused(alice: httpx.Client) -> None:
    answer = start(alice, 1000)
    answer["upload"]["url"] = answer["upload"]["url"].replace("signature=", "signature=x")
    assert_error(send(answer, png()), 403)


@pytest.mark.parametrize("signature", ["A" * 43, "\u00e9" * 32, ""])
def test_the_embedded_upload_route_refuses_a_signature_it_did_not_make(
    server: Server, alice: httpx.Client, nothing_stored: NothingStored, signature: str
) -> None:
    # On aws uploads go to S3: our own upload route must refuse every request (verify_upload).
    answer = start(alice, len(png()))
    expires = int(time.time()) + 3600
    with nothing_stored():
        response = httpx.put(
            f"{server.base_url}/images/uploads/{answer['image_id']}/data",
            params={"expires": expires, "signature": signature},
            content=png(),
            headers={"Content-Type": "image/png"},
        )
        assert_error(response, 403)


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
    sent(answer, png())
    assert_error(bob.post(f"/images/{answer['image_id']}/complete"), 404)
    assert_error(anon.post(f"/images/{answer['image_id']}/complete"), 401)
    assert_error(alice.post("/images/not-a-pending-upload/complete"), 404)
    assert alice.post(f"/images/{answer['image_id']}/complete").status_code == 201
