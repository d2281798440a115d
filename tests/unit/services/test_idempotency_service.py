"""Idempotency keys on the in-memory fakes: replays, conflicts, failures, waiting and takeovers.

``upload`` and ``start`` below are what the routes do: the use case inside ``run_once``, the
answer shaped as JSON. The clock is the test's, so leases and the 24 h expiry are moved by hand;
the wait for a concurrent attempt is real time, bounded by ``Limits.idempotency_wait``.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from fakes import Clock

from image_service.adapters.memory import InMemoryBlobStore, InMemoryIdempotencyStore, InMemoryPendingUploads
from image_service.domain.errors import BackendUnavailable, Conflict, InvalidInput, UnsupportedMediaType
from image_service.domain.models import Caller, IdempotencyRecord
from image_service.services.context import Context, Limits
from image_service.services.direct_uploads import start_direct_upload
from image_service.services.idempotency import (
    Answer,
    Reservation,
    check_key,
    fingerprint,
    keyed_upload,
    run_once,
)
from image_service.services.uploads import UploadDraft, upload_images

ALICE = Caller(user_id="alice")
BOB = Caller(user_id="bob")
Png = Callable[..., bytes]


def upload(ctx: Context, caller: Caller, drafts: list[UploadDraft], key: str | None) -> Answer:
    def work(reservation: Reservation | None) -> Answer:
        stored = upload_images(ctx, caller, drafts, reservation)
        return Answer(201, {"image_ids": [i.image_id for i in stored]})

    return run_once(ctx, keyed_upload(caller, key, "upload", drafts, batch=len(drafts) > 1), work)


def start(ctx: Context, caller: Caller, key: str | None, **meta: Any) -> Answer:
    draft = UploadDraft(data=b"", **meta)

    def work(reservation: Reservation | None) -> Answer:
        pending, target = start_direct_upload(
            ctx, caller, draft, content_type="image/png", size=100, reservation=reservation
        )
        return Answer(201, {"image_id": pending.image_id, "url": target.url})

    keyed = keyed_upload(caller, key, "direct upload", [draft], content_type="image/png", size=100)
    return run_once(ctx, keyed, work)


def ids(answer: Answer) -> list[str]:
    return list(answer.body["image_ids"])


class Gate:
    """Wraps a port: calls of ``method`` wait until the test opens the gate."""

    def __init__(self, inner: Any, method: str) -> None:
        self.inner, self.method = inner, method
        self.entered, self.opened = threading.Event(), threading.Event()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if name != self.method:
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            self.entered.set()
            assert self.opened.wait(10), "the gate was never opened"
            return attribute(*args, **kwargs)

        return call


class Breaking:
    """Wraps a port: calls of ``method`` raise BackendUnavailable while ``broken``."""

    def __init__(self, inner: Any, method: str) -> None:
        self.inner, self.method, self.broken = inner, method, True

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if name != self.method or not self.broken:
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            raise BackendUnavailable(f"injected failure of {name}")

        return call


@pytest.fixture
def drafts(png: Png) -> list[UploadDraft]:
    return [UploadDraft(data=png(7), title="cat", tags="a,b")]


# ---------------------------------------------------------------------- replays and conflicts


def test_without_a_key_every_retry_stores_again(ctx: Context, drafts: list[UploadDraft]) -> None:
    for _ in range(3):
        upload(ctx, ALICE, drafts, None)
    assert len(list(ctx.catalog.all_images())) == 3


def test_a_retry_with_the_key_replays_the_first_answer(ctx: Context, drafts: list[UploadDraft]) -> None:
    first = upload(ctx, ALICE, drafts, "key-1")
    again = upload(ctx, ALICE, drafts, "key-1")
    assert not first.replayed and again.replayed
    assert (again.status, again.body) == (first.status, first.body)
    assert [i.image_id for i in ctx.catalog.all_images()] == ids(first)


def test_the_fingerprint_is_of_the_parsed_request(png: Png) -> None:
    one = [UploadDraft(data=png(1), title="t", tags=["a"])]
    assert fingerprint("upload", one, {}) == fingerprint(
        "upload", [UploadDraft(data=png(1), title="t", tags=["a"])], {}
    )
    for other, extra, operation in [
        ([UploadDraft(data=png(2), title="t", tags=["a"])], {}, "upload"),
        ([UploadDraft(data=png(1), title="u", tags=["a"])], {}, "upload"),
        ([UploadDraft(data=png(1), title="t", tags=["b"])], {}, "upload"),
        (one, {"batch": True}, "upload"),
        (one, {}, "direct upload"),
    ]:
        assert fingerprint(operation, other, extra) != fingerprint("upload", one, {})


def test_the_same_key_for_another_request_is_409(ctx: Context, drafts: list[UploadDraft], png: Png) -> None:
    upload(ctx, ALICE, drafts, "key-1")
    with pytest.raises(Conflict, match="different request"):
        upload(ctx, ALICE, [UploadDraft(data=png(8), title="cat", tags="a,b")], "key-1")
    with pytest.raises(Conflict, match="different request"):
        upload(ctx, ALICE, [dataclasses.replace(drafts[0], title="dog")], "key-1")
    assert len(list(ctx.catalog.all_images())) == 1


def test_keys_belong_to_the_owner(ctx: Context, drafts: list[UploadDraft]) -> None:
    a = upload(ctx, ALICE, drafts, "shared")
    b = upload(ctx, BOB, drafts, "shared")
    assert ids(a) != ids(b)
    trusted = Caller(trusted=True)  # IMAGE_SERVICE_AUTH=none: the owner is the one named
    c = upload(ctx, trusted, [dataclasses.replace(drafts[0], user_id="alice")], "shared2")
    d = upload(ctx, ALICE, [dataclasses.replace(drafts[0], user_id="alice")], "shared2")
    assert d.replayed and ids(c) == ids(d)


def test_a_key_lives_24_hours(ctx: Context, clock: Clock, drafts: list[UploadDraft]) -> None:
    first = upload(ctx, ALICE, drafts, "key-1")
    clock.advance(24 * 3600 - 1)
    assert upload(ctx, ALICE, drafts, "key-1").replayed
    clock.advance(1)
    later = upload(ctx, ALICE, drafts, "key-1")
    assert not later.replayed and ids(later) != ids(first)


@pytest.mark.parametrize("key", ["", " ", "a b", "x" * 256, "caf\u00e9", "tab\t", "\x7f"])
def test_a_malformed_key_is_400(key: str) -> None:
    with pytest.raises(InvalidInput, match="Idempotency-Key"):
        check_key(key)


def test_a_key_is_up_to_255_visible_ascii_characters() -> None:
    for key in ["a", "x" * 255, "!#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", "0b9f7c2e-0d6a-4c1e-9a7e-3f2b1c0d9e8f"]:
        assert check_key(key) == key


# ---------------------------------------------------------------------- failures


def test_a_4xx_releases_the_key(ctx: Context, drafts: list[UploadDraft]) -> None:
    bad = [UploadDraft(data=b"not an image")]
    for _ in range(2):  # the same bad request runs again: nothing was saved for it
        with pytest.raises(UnsupportedMediaType):
            upload(ctx, ALICE, bad, "key-1")
    fixed = upload(ctx, ALICE, drafts, "key-1")  # a corrected retry may use the key
    assert not fixed.replayed and len(ids(fixed)) == 1


def test_after_a_5xx_a_retry_runs_at_once_under_the_same_ids(
    context_on: Callable[..., Context], drafts: list[UploadDraft]
) -> None:
    blobs = Breaking(InMemoryBlobStore(), "put")
    ctx = context_on(blobs)
    with pytest.raises(BackendUnavailable):
        upload(ctx, ALICE, drafts, "key-1")
    [held] = ctx.idempotency.records.values()  # type: ignore[attr-defined]
    blobs.broken = False
    retry = upload(ctx, ALICE, drafts, "key-1")  # no wait: the failed attempt ended its lease
    assert not retry.replayed and ids(retry) == list(held.image_ids)
    assert upload(ctx, ALICE, drafts, "key-1").replayed


def test_when_the_answer_cannot_be_saved_the_upload_still_answers(
    ctx: Context, clock: Clock, drafts: list[UploadDraft]
) -> None:
    broken = Breaking(InMemoryIdempotencyStore(), "complete")
    ctx = dataclasses.replace(ctx, idempotency=broken, limits=Limits(idempotency_wait=0.1))
    first = upload(ctx, ALICE, drafts, "key-1")
    with pytest.raises(Conflict, match="still in progress"):
        upload(ctx, ALICE, drafts, "key-1")  # the claim without an answer holds until its lease ends
    clock.advance(ctx.limits.idempotency_lease)
    retry = upload(ctx, ALICE, drafts, "key-1")  # takes over, finds the image stored under its id
    assert ids(retry) == ids(first)
    assert [i.image_id for i in ctx.catalog.all_images()] == ids(first)


# ---------------------------------------------------------------------- concurrent attempts


def test_a_concurrent_retry_waits_for_the_answer_and_replays_it(
    context_on: Callable[..., Context], drafts: list[UploadDraft]
) -> None:
    gate = Gate(InMemoryBlobStore(), "put")
    ctx = context_on(gate)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(upload, ctx, ALICE, drafts, "key-1")
        assert gate.entered.wait(5)
        second = pool.submit(upload, ctx, ALICE, drafts, "key-1")
        gate.opened.set()
        a, b = first.result(), second.result()
    assert b.replayed and ids(a) == ids(b)
    assert len(list(ctx.catalog.all_images())) == 1


def test_a_retry_gives_up_waiting_with_409(
    context_on: Callable[..., Context], drafts: list[UploadDraft]
) -> None:
    gate = Gate(InMemoryBlobStore(), "put")
    ctx = dataclasses.replace(context_on(gate), limits=Limits(idempotency_wait=0.2))
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(upload, ctx, ALICE, drafts, "key-1")
        assert gate.entered.wait(5)
        with pytest.raises(Conflict, match="still in progress"):
            upload(ctx, ALICE, drafts, "key-1")
        gate.opened.set()
        first.result()
    assert len(list(ctx.catalog.all_images())) == 1


def test_ten_concurrent_requests_store_once(ctx: Context, drafts: list[UploadDraft]) -> None:
    barrier = threading.Barrier(10)

    def one(_: int) -> Answer:
        barrier.wait()
        return upload(ctx, ALICE, drafts, "key-1")

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(one, range(10)))
    assert len({tuple(ids(a)) for a in answers}) == 1
    assert sum(not a.replayed for a in answers) == 1
    assert len(list(ctx.catalog.all_images())) == 1


# ---------------------------------------------------------------------- crashed attempts


def crashed_claim(ctx: Context, drafts: list[UploadDraft], key: str, image_ids: tuple[str, ...]) -> None:
    """What a process that died mid-request leaves behind: a claim with a live lease."""
    request = keyed_upload(ALICE, key, "upload", drafts, batch=len(drafts) > 1)
    assert request is not None
    now = ctx.now()
    claim = IdempotencyRecord(
        user_id="alice",
        key=key,
        fingerprint=request.fingerprint,
        token="crashed",
        image_ids=image_ids,
        lease_until=now + timedelta(seconds=ctx.limits.idempotency_lease),
        expires_at=now + timedelta(seconds=ctx.limits.idempotency_ttl),
    )
    assert ctx.idempotency.claim(claim, now) is None


def test_a_takeover_after_the_lease_reuses_the_crashed_attempts_ids(
    ctx: Context, clock: Clock, drafts: list[UploadDraft], png: Png
) -> None:
    batch = [*drafts, UploadDraft(data=png(9), name="second.png")]
    # The crashed attempt stored its first image, then died before the second.
    crashed_claim(ctx, batch, "key-1", ("crashed-1", "crashed-2"))
    upload_images(ctx, ALICE, batch[:1], Reservation(("crashed-1",)))
    landed = ctx.catalog.get("crashed-1")
    quick = dataclasses.replace(ctx, limits=Limits(idempotency_wait=0.1))
    with pytest.raises(Conflict, match="still in progress"):
        upload(quick, ALICE, batch, "key-1")
    clock.advance(ctx.limits.idempotency_lease)
    retry = upload(ctx, ALICE, batch, "key-1")
    assert ids(retry) == ["crashed-1", "crashed-2"]
    assert ctx.catalog.get("crashed-1") == landed  # answered as stored, not stored again
    assert sorted(i.image_id for i in ctx.catalog.all_images()) == ["crashed-1", "crashed-2"]
    assert ctx.blobs.exists(landed.blob_key)
    assert upload(ctx, ALICE, batch, "key-1").body == retry.body


def test_a_slow_attempt_and_its_takeover_store_one_image(
    context_on: Callable[..., Context], clock: Clock, drafts: list[UploadDraft]
) -> None:
    """The holder is not dead, only slower than its lease: both run, under the same id."""
    gate = Gate(InMemoryBlobStore(), "put")
    ctx = context_on(gate)
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(upload, ctx, ALICE, drafts, "key-1")
        assert gate.entered.wait(5)
        clock.advance(ctx.limits.idempotency_lease)
        # The takeover's own put must not wait at the gate: the same fakes, without it.
        taken = upload(dataclasses.replace(ctx, blobs=gate.inner), ALICE, drafts, "key-1")
        gate.opened.set()
        late = slow.result()
    assert ids(late) == ids(taken)
    [image] = ctx.catalog.all_images()
    assert ctx.blobs.exists(image.blob_key)  # the loser kept the winner's bytes
    assert upload(ctx, ALICE, drafts, "key-1").body == taken.body  # the takeover's answer holds


# ---------------------------------------------------------------------- direct uploads


def test_a_direct_upload_start_replays_its_image_id(context_on: Callable[..., Context]) -> None:
    ctx = dataclasses.replace(context_on(), pending=InMemoryPendingUploads())
    first = start(ctx, ALICE, "key-1", title="big")
    again = start(ctx, ALICE, "key-1", title="big")
    assert again.replayed and again.body == first.body
    assert list(ctx.pending.pending) == [first.body["image_id"]]  # type: ignore[attr-defined]
    with pytest.raises(Conflict, match="different request"):
        start(ctx, ALICE, "key-1", title="other")


def test_a_direct_upload_takeover_answers_the_recorded_pending_upload(
    context_on: Callable[..., Context], clock: Clock
) -> None:
    ctx = dataclasses.replace(context_on(), pending=InMemoryPendingUploads())
    draft = UploadDraft(data=b"", title="big")
    keyed = keyed_upload(ALICE, "key-1", "direct upload", [draft], content_type="image/png", size=100)
    assert keyed is not None
    now = ctx.now()
    claim = IdempotencyRecord(
        "alice", "key-1", keyed.fingerprint, "crashed", ("p-1",), now, now + timedelta(hours=1)
    )
    ctx.idempotency.claim(claim, now)
    start_direct_upload(
        ctx, ALICE, draft, content_type="image/png", size=100, reservation=Reservation(("p-1",))
    )
    clock.advance(1)
    retry = start(ctx, ALICE, "key-1", title="big")
    assert retry.body["image_id"] == "p-1"
    assert list(ctx.pending.pending) == ["p-1"]  # type: ignore[attr-defined]
