"""The IdempotencyStore contract, for every adapter (see conftest.IDEMPOTENCY_STORES)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from image_service.domain.models import IdempotencyRecord
from image_service.ports import IdempotencyStore

At = Callable[[int], datetime]
BODY = {"message": "Image uploaded successfully", "image_id": "i-1", "metadata": {"tags": ["a"], "x": None}}


def record(
    at: At, token: str = "t1", *, user: str = "alice", key: str = "k1", **changes: Any
) -> IdempotencyRecord:
    """A claim made at minute 0, its lease to minute 1, expiring at minute 60 (``at`` is minutes)."""
    values: dict[str, Any] = {
        "user_id": user,
        "key": key,
        "fingerprint": "f" * 64,
        "token": token,
        "image_ids": ("i-1", "i-2"),
        "lease_until": at(1),
        "expires_at": at(60),
    }
    values.update(changes)
    return IdempotencyRecord(**values)


def done(claim: IdempotencyRecord, at: At) -> IdempotencyRecord:
    return dataclasses.replace(claim, status=201, body=BODY, lease_until=at(0))


def test_the_first_claim_wins_and_later_ones_see_it(idempotency_store: IdempotencyStore, at: At) -> None:
    first = record(at)
    assert idempotency_store.claim(first, at(0)) is None
    assert idempotency_store.claim(record(at, "t2", fingerprint="other"), at(0)) == first
    assert not first.done


def test_keys_are_per_user(idempotency_store: IdempotencyStore, at: At) -> None:
    assert idempotency_store.claim(record(at, user="alice"), at(0)) is None
    assert idempotency_store.claim(record(at, "t2", user="bob"), at(0)) is None
    assert idempotency_store.claim(record(at, "t3", user="alice", key="k2"), at(0)) is None
    held = idempotency_store.claim(record(at, "t4", user="bob"), at(0))
    assert held is not None and held.token == "t2"


def test_any_visible_ascii_key_round_trips(idempotency_store: IdempotencyStore, at: At) -> None:
    for key in ["a#b/c:d~?&=%20\"'\\", "x" * 255, "IDEMPOTENCY#alice#k1", "#"]:
        claim = record(at, key=key)
        assert idempotency_store.claim(claim, at(0)) is None, key
        assert idempotency_store.claim(record(at, "t2", key=key), at(0)) == claim, key


def test_an_expired_record_counts_as_absent(idempotency_store: IdempotencyStore, at: At) -> None:
    first = record(at)
    idempotency_store.claim(first, at(0))
    idempotency_store.complete(done(first, at))
    held = idempotency_store.claim(record(at, "t2"), at(59))
    assert held is not None and held.token == "t1"
    later = record(at, "t3", lease_until=at(61), expires_at=at(120))
    assert idempotency_store.claim(later, at(60)) is None  # expires_at is the first instant it is gone
    assert idempotency_store.claim(record(at, "t4"), at(61)) == later


def test_complete_saves_the_answer_with_the_claim(idempotency_store: IdempotencyStore, at: At) -> None:
    claim = record(at)
    idempotency_store.claim(claim, at(0))
    answered = done(claim, at)
    idempotency_store.complete(answered)
    held = idempotency_store.claim(record(at, "t2"), at(0))
    assert held == answered
    assert held.done and held.status == 201 and held.body == BODY and held.image_ids == ("i-1", "i-2")


def test_complete_can_end_the_lease_without_an_answer(idempotency_store: IdempotencyStore, at: At) -> None:
    claim = record(at)
    idempotency_store.claim(claim, at(0))
    abandoned = dataclasses.replace(claim, lease_until=at(0))
    idempotency_store.complete(abandoned)
    assert idempotency_store.claim(record(at, "t2"), at(0)) == abandoned


def test_only_the_holder_completes_or_releases(idempotency_store: IdempotencyStore, at: At) -> None:
    claim = record(at)
    idempotency_store.claim(claim, at(0))
    impostor = record(at, "t2")
    idempotency_store.complete(done(impostor, at))
    idempotency_store.release(impostor)
    assert idempotency_store.claim(record(at, "t3"), at(0)) == claim


def test_release_frees_the_key(idempotency_store: IdempotencyStore, at: At) -> None:
    claim = record(at)
    idempotency_store.claim(claim, at(0))
    idempotency_store.release(claim)
    idempotency_store.release(claim)  # releasing again is not an error
    again = record(at, "t2")
    assert idempotency_store.claim(again, at(0)) is None
    assert idempotency_store.claim(record(at, "t3"), at(0)) == again


def test_take_over_replaces_an_unfinished_claim_once(idempotency_store: IdempotencyStore, at: At) -> None:
    stale = record(at)
    idempotency_store.claim(stale, at(0))
    heir = record(at, "t2", lease_until=at(3))
    assert idempotency_store.take_over(stale, heir)
    assert not idempotency_store.take_over(stale, record(at, "t3", lease_until=at(3)))  # moved on
    assert idempotency_store.claim(record(at, "t4"), at(2)) == heir
    idempotency_store.complete(done(stale, at))  # the slow first attempt can no longer write
    assert idempotency_store.claim(record(at, "t4"), at(2)) == heir


def test_take_over_never_replaces_an_answer(idempotency_store: IdempotencyStore, at: At) -> None:
    claim = record(at)
    idempotency_store.claim(claim, at(0))
    idempotency_store.complete(done(claim, at))
    assert not idempotency_store.take_over(claim, record(at, "t2", lease_until=at(3)))
    held = idempotency_store.claim(record(at, "t3"), at(2))
    assert held is not None and held.done and held.token == "t1"


def test_take_over_of_a_released_claim_fails(idempotency_store: IdempotencyStore, at: At) -> None:
    claim = record(at)
    idempotency_store.claim(claim, at(0))
    idempotency_store.release(claim)
    assert not idempotency_store.take_over(claim, record(at, "t2"))


def test_of_concurrent_claims_exactly_one_wins(idempotency_store: IdempotencyStore, at: At) -> None:
    tokens = [f"t{n}" for n in range(10)]
    barrier = threading.Barrier(len(tokens))

    def claim(token: str) -> IdempotencyRecord | None:
        barrier.wait()
        return idempotency_store.claim(record(at, token), at(0))

    with ThreadPoolExecutor(len(tokens)) as pool:
        results = list(pool.map(claim, tokens))
    winners = [token for token, held in zip(tokens, results, strict=True) if held is None]
    assert len(winners) == 1
    assert {held.token for held in results if held is not None} == set(winners)
