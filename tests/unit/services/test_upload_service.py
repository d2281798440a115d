"""services/uploads.py: what is stored, and all-or-nothing batches (who may upload for whom:
``tests/unit/domain/test_domain_access.py``)."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable

import pytest

from image_service.adapters.memory import InMemoryBlobStore, InMemoryImageCatalog
from image_service.domain.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    PayloadTooLarge,
    Unauthenticated,
    UnsupportedMediaType,
)
from image_service.domain.models import ANONYMOUS, Caller, Visibility
from image_service.services.context import Context, Limits
from image_service.services.uploads import UploadDraft, upload_images

Png = Callable[..., bytes]
ALICE = Caller(user_id="alice")


def stored_nothing(ctx: Context) -> bool:
    blobs, catalog = ctx.blobs, ctx.catalog
    assert isinstance(blobs, InMemoryBlobStore)
    assert isinstance(catalog, InMemoryImageCatalog)
    return not blobs.objects and not catalog.images


def test_anonymous_upload_stores_nothing(ctx: Context, png: Png) -> None:
    with pytest.raises(Unauthenticated):
        upload_images(ctx, ANONYMOUS, [UploadDraft(data=png())])
    assert stored_nothing(ctx)


def test_upload_for_someone_else_is_forbidden_unless_admin(ctx: Context, png: Png) -> None:
    with pytest.raises(Forbidden):
        upload_images(ctx, ALICE, [UploadDraft(data=png(), user_id="bob")])
    assert stored_nothing(ctx)
    [image] = upload_images(
        ctx, Caller(user_id="root", is_admin=True), [UploadDraft(data=png(), user_id="bob")]
    )
    assert image.user_id == "bob"
    assert image.blob_key.startswith("bob/")


# ---------------------------------------------------------------------- what is stored


def test_one_upload_stores_bytes_and_metadata(ctx: Context, png: Png) -> None:
    data = png(7, size=(5, 4))
    [image] = upload_images(ctx, ALICE, [UploadDraft(data=data)])
    assert image.image_id == "id-0001"
    assert image.user_id == "alice"
    assert image.name == "id-0001.png"  # default "<image_id>.<ext>"
    assert image.filename == "id-0001.png"
    assert image.blob_key == "alice/id-0001"
    assert (image.format, image.content_type, image.width, image.height) == ("PNG", "image/png", 5, 4)
    assert image.size == len(data)
    assert image.checksum_sha256 == hashlib.sha256(data).hexdigest()
    assert image.created_at == image.updated_at == ctx.now()
    assert (image.title, image.description, image.tags, image.category) == ("", "", (), None)
    assert image.visibility is Visibility.PUBLIC
    assert (image.access_count, image.last_accessed_at) == (0, None)
    assert ctx.catalog.get(image.image_id) == image
    assert ctx.blobs.get(image.blob_key) == data


def test_metadata_is_normalised(ctx: Context, png: Png) -> None:
    draft = UploadDraft(
        data=png(),
        filename="C:\\Users\\me\\IMG_0042.PNG",
        name="cat42.png",
        title="  My cat  ",
        description="line one\nline two",
        tags=" Cat, SUNSET ,cat,, ",
        category=" Pets ",
        visibility="PRIVATE",
    )
    [image] = upload_images(ctx, ALICE, [draft])
    assert image.name == "cat42.png"
    assert image.filename == "IMG_0042.PNG"
    assert image.title == "My cat"
    assert image.description == "line one\nline two"
    assert image.tags == ("cat", "sunset")
    assert image.category == "pets"
    assert image.visibility is Visibility.PRIVATE


def test_tags_may_be_a_list(ctx: Context, png: Png) -> None:
    [image] = upload_images(ctx, ALICE, [UploadDraft(data=png(), tags=["B", "a", "b"])])
    assert image.tags == ("b", "a")


@pytest.mark.parametrize(
    ("draft_fields", "error"),
    [
        ({"data": b"not an image"}, UnsupportedMediaType),
        ({"data": b""}, UnsupportedMediaType),
        ({"name": ".hidden"}, InvalidInput),
        ({"title": "t" * 201}, InvalidInput),
        ({"title": "bad \ud800 text"}, InvalidInput),  # JSON may carry lone surrogates; SQLite cannot
        ({"visibility": "secret"}, InvalidInput),
        ({"tags": [str(n) for n in range(21)]}, InvalidInput),
    ],
)
def test_invalid_single_upload_stores_nothing(
    ctx: Context, png: Png, draft_fields: dict[str, object], error: type[Exception]
) -> None:
    draft = UploadDraft(**{"data": png(), **draft_fields})  # type: ignore[arg-type]
    with pytest.raises(error) as caught:
        upload_images(ctx, ALICE, [draft])
    assert not str(caught.value).startswith("file #1"), "a single file is not labelled"
    assert stored_nothing(ctx)


def test_too_large_is_refused(ctx: Context, png: Png) -> None:
    small = dataclasses.replace(ctx, limits=Limits(max_image_bytes=10))
    with pytest.raises(PayloadTooLarge):
        upload_images(small, ALICE, [UploadDraft(data=png())])
    assert stored_nothing(small)


def test_an_empty_batch_is_invalid(ctx: Context) -> None:
    with pytest.raises(InvalidInput):
        upload_images(ctx, ALICE, [])


# ---------------------------------------------------------------------- batches


def test_batch_stores_every_file(ctx: Context, png: Png) -> None:
    drafts = [UploadDraft(data=png(n), filename=f"f{n}.png", tags="x") for n in range(3)]
    images = upload_images(ctx, ALICE, drafts)
    assert [i.image_id for i in images] == ["id-0001", "id-0002", "id-0003"]
    assert [i.filename for i in images] == ["f0.png", "f1.png", "f2.png"]
    for image, n in zip(images, range(3), strict=True):
        assert ctx.blobs.get(image.blob_key) == png(n)
        assert ctx.catalog.get(image.image_id) == image


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        (UploadDraft(data=b"GIF89a but not really", filename="broken.gif"), UnsupportedMediaType),
        (UploadDraft(data=b"\x89PNG\r\n\x1a\n", filename="broken.gif"), UnsupportedMediaType),
        (UploadDraft(data=b"\xff\xd8\xff", filename="broken.gif"), UnsupportedMediaType),
        (UploadDraft(data=b"", filename="broken.gif"), UnsupportedMediaType),
        (UploadDraft(data=b"valid", filename="broken.gif", name="../x"), InvalidInput),
        (UploadDraft(data=b"valid", filename="broken.gif", user_id="bob"), Forbidden),
        (UploadDraft(data=b"valid", filename="broken.gif", tags=["x" * 51]), InvalidInput),
    ],
)
def test_a_bad_file_fails_the_whole_batch_naming_it(
    ctx: Context, png: Png, bad: UploadDraft, error: type[Exception]
) -> None:
    if bad.data == b"valid":  # the bytes are fine, the metadata is not
        bad = dataclasses.replace(bad, data=png(9))
    drafts = [
        UploadDraft(data=png(1), filename="good1.png"),
        bad,
        UploadDraft(data=png(2), filename="good2.png"),
    ]
    with pytest.raises(error) as caught:
        upload_images(ctx, ALICE, drafts)
    assert str(caught.value).startswith("broken.gif: ")
    assert caught.value.message.startswith("broken.gif: ")  # type: ignore[attr-defined]
    assert stored_nothing(ctx)


def test_a_bad_file_without_a_filename_is_named_by_position(ctx: Context, png: Png) -> None:
    drafts = [UploadDraft(data=png(1)), UploadDraft(data=b"junk"), UploadDraft(data=png(2))]
    with pytest.raises(UnsupportedMediaType, match=r"^file #2: "):
        upload_images(ctx, ALICE, drafts)
    assert stored_nothing(ctx)


def test_duplicate_names_in_one_batch_conflict(ctx: Context, png: Png) -> None:
    drafts = [UploadDraft(data=png(1), name="same.png"), UploadDraft(data=png(2), name="same.png")]
    with pytest.raises(Conflict):
        upload_images(ctx, ALICE, drafts)
    assert stored_nothing(ctx)


def test_a_taken_name_undoes_the_files_stored_before_it(ctx: Context, png: Png) -> None:
    [existing] = upload_images(ctx, ALICE, [UploadDraft(data=png(0), name="taken.png")])
    drafts = [
        UploadDraft(data=png(1), name="fresh.png"),
        UploadDraft(data=png(2), name="also-fresh.png"),
        UploadDraft(data=png(3), name="taken.png"),
    ]
    with pytest.raises(Conflict):
        upload_images(ctx, Caller(user_id="bob"), drafts)
    catalog, blobs = ctx.catalog, ctx.blobs
    assert isinstance(catalog, InMemoryImageCatalog)
    assert isinstance(blobs, InMemoryBlobStore)
    assert list(catalog.images.values()) == [existing]
    assert set(blobs.objects) == {existing.blob_key}
