"""Direct uploads against the in-memory fakes: start, receive, complete, expiry sweep."""

from __future__ import annotations

import io
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from fakes import Clock, make_context
from PIL import Image as PILImage

from image_service.adapters.memory import InMemoryPendingUploads
from image_service.domain.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from image_service.domain.models import Caller
from image_service.services.context import Context, Limits
from image_service.services.direct_uploads import (
    complete_direct_upload,
    receive_upload,
    restart_direct_upload,
    start_direct_upload,
    sweep_expired,
)
from image_service.services.idempotency import Reservation
from image_service.services.uploads import UploadDraft

ALICE = Caller(user_id="alice")
BOB = Caller(user_id="bob")


@pytest.fixture
def ctx(clock: Clock) -> Context:
    limits = Limits(max_image_bytes=100_000, direct_upload_expiry=600)
    return make_context(clock=clock, limits=limits, pending=InMemoryPendingUploads())


def png() -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (8, 8), "blue").save(buffer, "PNG")
    return buffer.getvalue()


def start(ctx: Context, caller: Caller = ALICE, **meta: object) -> tuple[str, int, str]:
    pending, target = start_direct_upload(
        ctx,
        caller,
        UploadDraft(data=b"", **meta),
        content_type="image/png",
        size=1000,  # type: ignore[arg-type]
    )
    query = parse_qs(urlsplit(target.url).query)
    assert target.method == "PUT"
    return pending.image_id, int(query["expires"][0]), query["signature"][0]


def test_start_send_complete_stores_the_image(ctx: Context) -> None:
    image_id, expires, signature = start(ctx, name="direct.png", tags="A,b")
    data = png()
    receive_upload(ctx, image_id, expires=expires, signature=signature, data=data)
    image = complete_direct_upload(ctx, ALICE, image_id)
    assert (image.name, image.tags, image.format, image.size) == ("direct.png", ("a", "b"), "PNG", len(data))
    assert ctx.catalog.get(image_id) == image
    assert ctx.blobs.get(image.blob_key) == data
    with pytest.raises(NotFound):
        ctx.pending.get_pending(image_id)


def test_start_refuses_bad_declarations(ctx: Context) -> None:
    with pytest.raises(UnsupportedMediaType):
        start_direct_upload(ctx, ALICE, UploadDraft(data=b""), content_type="image/svg+xml", size=10)
    with pytest.raises(PayloadTooLarge):
        start_direct_upload(ctx, ALICE, UploadDraft(data=b""), content_type="image/png", size=100_001)
    with pytest.raises(InvalidInput):
        start_direct_upload(ctx, ALICE, UploadDraft(data=b"", name=".bad"), content_type="image/png", size=10)
    assert ctx.pending.expired_pending(ctx.now() + timedelta(days=1)) == []


def test_invalid_bytes_are_deleted_on_complete(ctx: Context) -> None:
    image_id, expires, signature = start(ctx)
    receive_upload(ctx, image_id, expires=expires, signature=signature, data=b"<svg></svg>")
    with pytest.raises(UnsupportedMediaType):
        complete_direct_upload(ctx, ALICE, image_id)
    assert ctx.blobs.objects == {}  # type: ignore[attr-defined]
    with pytest.raises(NotFound):
        ctx.catalog.get(image_id)


def test_bytes_beyond_the_declared_size_are_refused_on_complete(ctx: Context) -> None:
    """A store that does not enforce the upload policy (moto, other S3 emulators) let them in."""
    image_id, _, _ = start(ctx)
    pending = ctx.pending.get_pending(image_id)
    ctx.blobs.put(pending.blob_key, png() + b"\0" * 1000, "image/png")
    with pytest.raises(PayloadTooLarge):
        complete_direct_upload(ctx, ALICE, image_id)
    assert ctx.blobs.objects == {}  # type: ignore[attr-defined]
    with pytest.raises(NotFound):
        ctx.pending.get_pending(image_id)


def test_name_taken_meanwhile_leaves_nothing(ctx: Context) -> None:
    first, e1, s1 = start(ctx, name="same.png")
    second, e2, s2 = start(ctx, name="same.png")
    for image_id, expires, signature in ((first, e1, s1), (second, e2, s2)):
        receive_upload(ctx, image_id, expires=expires, signature=signature, data=png())
    complete_direct_upload(ctx, ALICE, first)
    with pytest.raises(Conflict):
        complete_direct_upload(ctx, ALICE, second)
    assert list(ctx.blobs.objects) == [f"alice/{first}"]  # type: ignore[attr-defined]


def test_upload_url_is_checked(ctx: Context, clock: Clock) -> None:
    image_id, expires, signature = start(ctx)
    with pytest.raises(Forbidden):
        receive_upload(ctx, image_id, expires=expires + 1, signature=signature, data=png())
    with pytest.raises(Forbidden):
        receive_upload(ctx, "id-999", expires=expires, signature=signature, data=png())
    with pytest.raises(PayloadTooLarge):
        receive_upload(ctx, image_id, expires=expires, signature=signature, data=b"x" * 1001)
    clock.advance(601)
    with pytest.raises(Forbidden):
        receive_upload(ctx, image_id, expires=expires, signature=signature, data=png())


def test_only_the_owner_completes(ctx: Context) -> None:
    image_id, expires, signature = start(ctx)
    receive_upload(ctx, image_id, expires=expires, signature=signature, data=png())
    with pytest.raises(NotFound):
        complete_direct_upload(ctx, BOB, image_id)
    assert complete_direct_upload(ctx, Caller(user_id="root", is_admin=True), image_id).user_id == "alice"


def test_complete_without_bytes_is_400_and_keeps_the_pending_upload(ctx: Context) -> None:
    image_id, _, _ = start(ctx)
    with pytest.raises(InvalidInput):
        complete_direct_upload(ctx, ALICE, image_id)
    assert ctx.pending.get_pending(image_id).user_id == "alice"


def test_expired_pending_uploads_are_swept(ctx: Context, clock: Clock) -> None:
    image_id, expires, signature = start(ctx)
    receive_upload(ctx, image_id, expires=expires, signature=signature, data=png())
    assert sweep_expired(ctx) == 0
    clock.advance(601)
    with pytest.raises(NotFound):
        complete_direct_upload(ctx, ALICE, image_id)
    start(ctx)
    clock.advance(601)
    assert sweep_expired(ctx) == 1
    assert ctx.blobs.objects == {}  # type: ignore[attr-defined]


def test_a_replayed_start_past_the_expiry_starts_the_upload_again(ctx: Context, clock: Clock) -> None:
    """An Idempotency-Key lives a day, an upload URL an hour: a re-run the next morning must get a
    URL that works, for the same image id; once completed, the first answer stands."""
    draft = UploadDraft(data=b"", title="big")
    first, _ = start_direct_upload(
        ctx, ALICE, draft, content_type="image/png", size=1000, reservation=Reservation(("id-key",))
    )
    clock.advance(601)  # past direct_upload_expiry: the first URL and the pending upload are dead
    again = restart_direct_upload(ctx, ALICE, draft, content_type="image/png", size=1000, image_id="id-key")
    assert again is not None
    pending, target = again
    assert pending.image_id == first.image_id and pending.expires_at == clock() + timedelta(seconds=600)
    query = parse_qs(urlsplit(target.url).query)
    receive_upload(
        ctx, "id-key", expires=int(query["expires"][0]), signature=query["signature"][0], data=png()
    )
    assert complete_direct_upload(ctx, ALICE, "id-key").title == "big"
    assert (
        restart_direct_upload(ctx, ALICE, draft, content_type="image/png", size=1000, image_id="id-key")
        is None
    )
