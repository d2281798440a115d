"""Idempotency-Key on POST /images (and its aliases) and POST /images/uploads, on real servers.

A retry with the key answers the first answer and stores nothing; images are counted through
the API by a tag unique to each test, so the other tests' uploads never disturb a count.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from api_helpers import assert_error, b64, list_all, png, unique
from api_server import NothingStored, Server

pytestmark = pytest.mark.api

IN_PROGRESS = "a request with this Idempotency-Key is still in progress"


def key() -> str:
    return str(uuid.uuid4())


def post(
    client: httpx.Client, data: bytes, idempotency_key: str | None, path: str = "/images", **fields: Any
) -> httpx.Response:
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key is not None else {}
    return client.post(path, json={"image_data": b64(data), **fields}, headers=headers)


def tagged(admin: httpx.Client, tag: str) -> list[str]:
    return sorted(i["image_id"] for i in list_all(admin, tag=tag))


def test_a_retry_with_the_key_answers_the_first_answer_and_stores_nothing(
    alice: httpx.Client, admin: httpx.Client
) -> None:
    tag, k, data = unique("idem"), key(), png()
    first = post(alice, data, k, tags=[tag], title="once")
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    for path in ("/images", "/api/v1/images", "/upload"):  # the aliases are the same operation
        again = post(alice, data, k, path, tags=[tag], title="once")
        assert again.status_code == 201, (path, again.text)
        assert again.json() == first.json(), path
        assert again.headers["idempotent-replayed"] == "true"
    assert tagged(admin, tag) == [first.json()["image_id"]]


def test_a_multipart_retry_with_a_new_boundary_is_a_replay(alice: httpx.Client, admin: httpx.Client) -> None:
    tag, k, data = unique("idem"), key(), png()
    requests = [
        alice.build_request(
            "POST",
            "/images",
            files={"file": ("cat.png", data, "image/png")},
            data={"tags": tag, "title": "multipart"},
            headers={"Idempotency-Key": k},
        )
        for _ in range(2)
    ]
    boundaries = {r.headers["content-type"].partition("boundary=")[2] for r in requests}
    assert len(boundaries) == 2, "httpx made the same boundary twice"
    first, again = (alice.send(r) for r in requests)
    assert first.status_code == 201, first.text
    assert again.status_code == 201 and again.json() == first.json()
    assert tagged(admin, tag) == [first.json()["image_id"]]


def test_a_multipart_batch_replays_every_image(alice: httpx.Client, admin: httpx.Client) -> None:
    tag, k = unique("idem"), key()
    files = [("files", (f"{n}.png", png(8 + n), "image/png")) for n in range(3)]
    answers = [
        alice.post("/images", files=files, data={"tags": tag}, headers={"Idempotency-Key": k})
        for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [201, 201], answers[0].text
    assert answers[1].json() == answers[0].json()
    assert tagged(admin, tag) == sorted(i["image_id"] for i in answers[0].json()["images"])


def test_the_same_key_with_another_request_is_409(alice: httpx.Client, admin: httpx.Client) -> None:
    tag, k, data = unique("idem"), key(), png()
    assert post(alice, data, k, tags=[tag]).status_code == 201
    for response in (
        post(alice, png(), k, tags=[tag]),  # other bytes
        post(alice, data, k, tags=[tag], title="changed"),  # other metadata
        alice.post(
            "/images/uploads",  # another operation
            json={"filename": "a.png", "content_type": "image/png", "size": 100},
            headers={"Idempotency-Key": k},
        ),
    ):
        assert "different request" in assert_error(response, 409)
    assert len(tagged(admin, tag)) == 1


def test_ten_concurrent_requests_with_one_key_store_one_image(
    server: Server, admin: httpx.Client, alice_key: str
) -> None:
    tag, k, data = unique("idem"), key(), png()
    clients = [server.client(alice_key) for _ in range(10)]
    barrier = threading.Barrier(len(clients))

    def send(client: httpx.Client) -> httpx.Response:
        barrier.wait()
        return post(client, data, k, tags=[tag])

    with ThreadPoolExecutor(len(clients)) as pool:
        answers = list(pool.map(send, clients))
    stored = tagged(admin, tag)
    assert len(stored) == 1
    created = [a for a in answers if a.status_code == 201]
    assert created, [a.text for a in answers]
    assert {a.json()["image_id"] for a in created} == set(stored)
    for refused in (a for a in answers if a.status_code != 201):  # allowed, if the first is slow
        assert assert_error(refused, 409) == IN_PROGRESS
    assert sum(a.headers.get("idempotent-replayed") == "true" for a in created) == len(created) - 1


def test_keys_are_per_user(alice: httpx.Client, bob: httpx.Client, admin: httpx.Client) -> None:
    tag, k, data = unique("idem"), key(), png()
    a = post(alice, data, k, tags=[tag])
    b = post(bob, data, k, tags=[tag])
    assert (a.status_code, b.status_code) == (201, 201), (a.text, b.text)
    assert (a.json()["metadata"]["user_id"], b.json()["metadata"]["user_id"]) == ("alice", "bob")
    assert tagged(admin, tag) == sorted([a.json()["image_id"], b.json()["image_id"]])


def test_without_auth_the_key_belongs_to_the_user_the_request_names(open_server: Server) -> None:
    client = open_server.client()
    tag, k, data = unique("idem"), key(), png()
    carol, dave = unique("carol"), unique("dave")
    first = post(client, data, k, user_id=carol, tags=[tag])
    again = post(client, data, k, user_id=carol, tags=[tag])
    other = post(client, data, k, user_id=dave, tags=[tag])
    assert [r.status_code for r in (first, again, other)] == [201, 201, 201]
    assert again.json() == first.json()
    assert other.json()["image_id"] != first.json()["image_id"]
    assert len(list_all(client, tag=tag)) == 2


def test_a_failed_request_leaves_the_key_unused(alice: httpx.Client, admin: httpx.Client) -> None:
    tag, k = unique("idem"), key()
    for _ in range(2):  # nothing was saved for the failure: the same request runs again
        assert_error(post(alice, b"not an image at all", k, tags=[tag]), 415)
    fixed = post(alice, png(), k, tags=[tag])
    assert fixed.status_code == 201 and "idempotent-replayed" not in fixed.headers
    assert tagged(admin, tag) == [fixed.json()["image_id"]]


@pytest.mark.parametrize("bad", ["", "two words", "x" * 256, "caf\u00e9"])
def test_a_malformed_key_is_400_and_stores_nothing(
    alice: httpx.Client, nothing_stored: NothingStored, bad: str
) -> None:
    with nothing_stored():
        response = alice.post(
            "/images", json={"image_data": b64(png())}, headers={"Idempotency-Key": bad.encode("latin-1")}
        )
        assert "Idempotency-Key" in assert_error(response, 400)
        response = alice.post(
            "/images/uploads",
            json={"filename": "a.png", "content_type": "image/png", "size": 100},
            headers={"Idempotency-Key": bad.encode("latin-1")},
        )
        assert "Idempotency-Key" in assert_error(response, 400)


def test_a_direct_upload_start_replays_its_image_id(alice: httpx.Client) -> None:
    k = key()
    body = {"filename": "big.png", "content_type": "image/png", "size": 500, "title": unique("direct")}
    first = alice.post("/images/uploads", json=body, headers={"Idempotency-Key": k})
    again = alice.post("/images/uploads", json=body, headers={"Idempotency-Key": k})
    assert (first.status_code, again.status_code) == (201, 201), first.text
    # Not completed yet: the same image id, with a fresh URL (tests/api/test_api_direct_uploads.py).
    assert again.json()["image_id"] == first.json()["image_id"]
    assert again.headers["idempotent-replayed"] == "true"
    other = alice.post("/images/uploads", json={**body, "size": 501}, headers={"Idempotency-Key": k})
    assert "different request" in assert_error(other, 409)
    fresh = alice.post("/images/uploads", json=body)  # without the key: a new upload, as before
    assert fresh.status_code == 201 and fresh.json()["image_id"] != first.json()["image_id"]


def test_openapi_declares_the_header(anon: httpx.Client) -> None:
    spec = anon.get("/openapi.json").json()
    for path in ("/images", "/images/uploads"):
        parameters = spec["paths"][path]["post"]["parameters"]
        [header] = [p for p in parameters if p["in"] == "header" and p["name"] == "Idempotency-Key"]
        assert not header.get("required") and "24 hours" in header["description"]
        assert (header["schema"]["minLength"], header["schema"]["maxLength"]) == (1, 255)


# ---------------------------------------------------------------------- the retry storm


def storm(
    server: Server, admin: httpx.Client, token: str, *, with_key: bool, clients: int = 50
) -> tuple[int, Counter[int]]:
    """``clients`` clients at once, each sending one upload four times: the first answer is lost
    (the client timed out), so it retries at once while the first attempt may still run, then
    twice more after that. Returns how many images were stored, and the statuses answered."""
    tag = unique("storm")
    barrier = threading.Barrier(clients)

    def client_run(_: int) -> list[int]:
        data, k = png(), (key() if with_key else None)
        with server.client(token) as first, server.client(token) as second:
            barrier.wait()
            with ThreadPoolExecutor(2) as pool:  # the lost first attempt and the quick retry
                overlapping = list(pool.map(lambda c: post(c, data, k, tags=[tag]), (first, second)))
            later = [post(first, data, k, tags=[tag]) for _ in range(2)]
        return [r.status_code for r in (*overlapping, *later)]

    with ThreadPoolExecutor(clients) as pool:
        statuses = [status for run in pool.map(client_run, range(clients)) for status in run]
    assert set(statuses) <= {201, 409}, statuses  # 409: a retry that gave up waiting (documented)
    return len(tagged(admin, tag)), Counter(statuses)


def test_a_retry_storm_stores_each_upload_once(
    server: Server, admin: httpx.Client, alice_key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before, _ = storm(server, admin, alice_key, with_key=False)
    after, statuses = storm(server, admin, alice_key, with_key=True)
    with capsys.disabled():
        print(
            f"\nretry storm on {server.backend}: 50 uploads x 4 attempts -> {before} images without"
            f" a key, {after} with one (answers {dict(sorted(statuses.items()))})"
        )
    assert before == 50 * 4  # today's behaviour without a key: every attempt is an image
    assert after == 50
