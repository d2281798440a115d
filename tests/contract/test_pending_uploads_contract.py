"""The PendingUploads contract, for every adapter (see conftest.PENDING_UPLOADS)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest

from image_service.domain.errors import NotFound
from image_service.domain.models import PendingUpload
from image_service.ports import PendingInventory, PendingUploads

At = Callable[[int], datetime]


def pending(image_id: str, created: datetime, expires: datetime) -> PendingUpload:
    return PendingUpload(
        image_id=image_id,
        user_id="alice",
        blob_key=f"alice/{image_id}",
        content_type="image/png",
        size=1234,
        metadata={"title": "T", "tags": ["a", "b"], "visibility": "private", "name": None},
        created_at=created,
        expires_at=expires,
    )


def test_add_then_get(pending_uploads: PendingUploads, at: At) -> None:
    one = pending("p1", at(0), at(60))
    pending_uploads.add_pending(one)
    assert pending_uploads.get_pending("p1") == one
    with pytest.raises(NotFound):
        pending_uploads.get_pending("p2")


def test_remove_and_remove_missing(pending_uploads: PendingUploads, at: At) -> None:
    pending_uploads.add_pending(pending("p1", at(0), at(60)))
    pending_uploads.remove_pending("p1")
    with pytest.raises(NotFound):
        pending_uploads.get_pending("p1")
    pending_uploads.remove_pending("p1")
    pending_uploads.remove_pending("never")


def test_expired_are_listed_oldest_expiry_first_up_to_the_limit(
    pending_uploads: PendingUploads, at: At
) -> None:
    for image_id, expires in [("late", 30), ("early", 10), ("now", 20), ("future", 40)]:
        pending_uploads.add_pending(pending(image_id, at(0), at(expires)))
    assert [p.image_id for p in pending_uploads.expired_pending(at(20))] == ["early"]  # strictly before
    assert [p.image_id for p in pending_uploads.expired_pending(at(35))] == ["early", "now", "late"]
    assert [p.image_id for p in pending_uploads.expired_pending(at(35), limit=2)] == ["early", "now"]
    assert pending_uploads.expired_pending(at(5)) == []


def test_the_store_serves_fsck_too(pending_uploads: PendingUploads) -> None:
    assert isinstance(pending_uploads, PendingInventory), "fsck reaches it as FsckStores.of(ctx).pending"


def test_all_pending_lists_expired_and_live(pending_uploads: PendingUploads, at: At) -> None:
    for image_id, expires in [("old", 10), ("new", 90)]:
        pending_uploads.add_pending(pending(image_id, at(0), at(expires)))
    assert sorted(p.image_id for p in pending_uploads.all_pending()) == ["new", "old"]
    pending_uploads.remove_pending("old")
    assert [p.image_id for p in pending_uploads.all_pending()] == ["new"]
