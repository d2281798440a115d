"""Blobs and catalog rows stay paired when a backend fails part-way through a use case.

``Failing`` wraps a fake port and raises BackendUnavailable on the Nth call of one method, before
the call reaches the fake. After every injected failure: no object without its catalog row, no
row without its object, except the one documented direction on delete (metadata goes first, so
a failing blob delete leaves an invisible orphan object, never a row pointing at nothing).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import pytest

from image_service.adapters.memory import InMemoryBlobStore, InMemoryImageCatalog
from image_service.domain.errors import BackendUnavailable
from image_service.domain.models import Caller, Image
from image_service.services.context import Context
from image_service.services.images import delete_image, delete_images
from image_service.services.uploads import UploadDraft, upload_images

ALICE = Caller(user_id="alice")
Png = Callable[..., bytes]
ContextOn = Callable[..., Context]


class Failing:
    """A port whose ``method`` fails on calls number ``on`` (1-based; a set, or every call)."""

    def __init__(self, inner: Any, method: str, on: int | set[int] | None = None) -> None:
        self.inner = inner
        self.method = method
        self.on = {on} if isinstance(on, int) else on
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if name != self.method:
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            if self.on is None or self.calls in self.on:
                raise BackendUnavailable(f"injected failure of {name} call {self.calls}")
            return attribute(*args, **kwargs)

        return call


def assert_paired(
    blobs: InMemoryBlobStore, catalog: InMemoryImageCatalog, orphans: Collection[str] = ()
) -> None:
    rows = {image.blob_key for image in catalog.images.values()}
    objects = set(blobs.objects)
    assert rows - objects == set(), "catalog rows without their object"
    assert objects - rows == set(orphans), "objects without a catalog row"


@pytest.fixture
def fakes() -> tuple[InMemoryBlobStore, InMemoryImageCatalog]:
    return InMemoryBlobStore(), InMemoryImageCatalog()


def seed(ctx: Context, png: Png, count: int = 1) -> list[Image]:
    drafts = [UploadDraft(data=png(100 + n), name=f"seed{n}.png") for n in range(count)]
    return upload_images(ctx, Caller(user_id="seeder"), drafts)


# ---------------------------------------------------------------------- uploads


@pytest.mark.parametrize("method", ["put", "add"])
@pytest.mark.parametrize(("files", "failing_call"), [(1, 1), (3, 1), (3, 2), (3, 3)])
def test_upload_failure_leaves_nothing_behind(
    fakes: tuple[InMemoryBlobStore, InMemoryImageCatalog],
    context_on: ContextOn,
    png: Png,
    method: str,
    files: int,
    failing_call: int,
) -> None:
    blobs, catalog = fakes
    before = seed(context_on(blobs, catalog), png)
    if method == "put":
        ctx = context_on(Failing(blobs, "put", failing_call), catalog)
    else:
        ctx = context_on(blobs, Failing(catalog, "add", failing_call))
    drafts = [UploadDraft(data=png(n), filename=f"f{n}.png") for n in range(files)]
    with pytest.raises(BackendUnavailable, match=f"{method} call {failing_call}"):
        upload_images(ctx, ALICE, drafts)
    assert list(catalog.images.values()) == before
    assert set(blobs.objects) == {before[0].blob_key}
    assert_paired(blobs, catalog)


def test_upload_undo_that_cannot_remove_a_row_keeps_its_object(
    fakes: tuple[InMemoryBlobStore, InMemoryImageCatalog], context_on: ContextOn, png: Png
) -> None:
    """Third add fails, then undoing the second file's row fails too: that image stays whole."""
    blobs, catalog = fakes
    flaky = Failing(Failing(catalog, "add", 3), "remove", 1)
    ctx = context_on(blobs, flaky)
    with pytest.raises(BackendUnavailable, match="add call 3"):
        upload_images(ctx, ALICE, [UploadDraft(data=png(n)) for n in range(3)])
    assert list(catalog.images) == ["id-0002"]
    assert_paired(blobs, catalog)


def test_upload_undo_that_cannot_delete_objects_never_leaves_rows(
    fakes: tuple[InMemoryBlobStore, InMemoryImageCatalog], context_on: ContextOn, png: Png
) -> None:
    """Add fails and every blob delete fails as well: orphan objects, but no row without bytes."""
    blobs, catalog = fakes
    ctx = context_on(Failing(blobs, "delete"), Failing(catalog, "add", 3))
    with pytest.raises(BackendUnavailable, match="add call 3"):
        upload_images(ctx, ALICE, [UploadDraft(data=png(n)) for n in range(3)])
    assert catalog.images == {}
    assert_paired(blobs, catalog, orphans={"alice/id-0001", "alice/id-0002", "alice/id-0003"})


# ---------------------------------------------------------------------- delete


def test_delete_whose_catalog_remove_fails_leaves_the_image_untouched(
    fakes: tuple[InMemoryBlobStore, InMemoryImageCatalog], context_on: ContextOn, png: Png
) -> None:
    blobs, catalog = fakes
    [image] = upload_images(context_on(blobs, catalog), ALICE, [UploadDraft(data=png())])
    ctx = context_on(blobs, Failing(catalog, "remove", 1))
    with pytest.raises(BackendUnavailable):
        delete_image(ctx, ALICE, image.image_id)
    assert catalog.get(image.image_id) == image
    assert blobs.get(image.blob_key) == png()
    assert_paired(blobs, catalog)


def test_delete_whose_blob_delete_fails_still_succeeds_leaving_one_orphan(
    fakes: tuple[InMemoryBlobStore, InMemoryImageCatalog], context_on: ContextOn, png: Png
) -> None:
    blobs, catalog = fakes
    kept, doomed = upload_images(
        context_on(blobs, catalog), ALICE, [UploadDraft(data=png(n)) for n in range(2)]
    )
    ctx = context_on(Failing(blobs, "delete", 1), catalog)
    assert delete_image(ctx, ALICE, doomed.image_id) == doomed
    assert list(catalog.images.values()) == [kept]
    assert_paired(blobs, catalog, orphans={doomed.blob_key})


def test_bulk_delete_failing_midway_keeps_every_image_whole_or_gone(
    fakes: tuple[InMemoryBlobStore, InMemoryImageCatalog], context_on: ContextOn, png: Png
) -> None:
    blobs, catalog = fakes
    images = upload_images(context_on(blobs, catalog), ALICE, [UploadDraft(data=png(n)) for n in range(3)])
    ctx = context_on(blobs, Failing(catalog, "remove", 2))
    with pytest.raises(BackendUnavailable):
        delete_images(ctx, ALICE, [i.image_id for i in images])
    assert list(catalog.images) == [images[1].image_id, images[2].image_id]
    assert_paired(blobs, catalog)


def test_the_wrapper_passes_other_calls_through(
    fakes: tuple[InMemoryBlobStore, InMemoryImageCatalog], context_on: ContextOn, png: Png
) -> None:
    """Guards the guard: a wrapper failing on a call that never comes changes nothing."""
    blobs, catalog = fakes
    ctx = context_on(Failing(blobs, "put", 99), Failing(catalog, "add", 99))
    images = upload_images(ctx, ALICE, [UploadDraft(data=png(n)) for n in range(3)])
    assert [catalog.get(i.image_id) for i in images] == images
    assert_paired(blobs, catalog)
