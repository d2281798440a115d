"""services/images.py: signed URLs, content access, updates and deletes, with who may do what."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from fakes import Clock

from image_service.domain.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from image_service.domain.models import ADMIN, ANONYMOUS, Caller, Image, Visibility
from image_service.services.context import Context
from image_service.services.images import (
    ContentGrant,
    delete_image,
    delete_images,
    open_content,
    read_content,
    update_image,
    view_image,
)

ALICE, BOB = Caller(user_id="alice"), Caller(user_id="bob")
ROOT = Caller(user_id="root", is_admin=True)
TRUSTED_BOB = Caller(user_id="bob", trusted=True)
Upload = Callable[..., Image]


@pytest.fixture
def public(upload: Upload) -> Image:
    return upload("alice", name="public.png", title="Public")


@pytest.fixture
def private(upload: Upload) -> Image:
    return upload("alice", name="private.png", visibility="private")


def grant_from(url: str) -> tuple[str, ContentGrant]:
    """The image id and the proof carried by a signed content URL."""
    parts = urlsplit(url)
    query = {key: value for key, [value] in parse_qs(parts.query).items()}
    image_id = parts.path.split("/")[2]
    assert parts.path == f"/images/{image_id}/content"
    return image_id, ContentGrant(
        expires=int(query["expires"]), download=query["download"] == "true", signature=query["signature"]
    )


# ---------------------------------------------------------------------- view and signed URLs


def test_view_signs_a_url_for_the_default_expiry(ctx: Context, public: Image) -> None:
    signed = view_image(ctx, ANONYMOUS, public.image_id)
    assert signed.image == public
    assert signed.expires_in == 3600
    image_id, grant = grant_from(signed.url)
    assert image_id == public.image_id
    assert grant.expires == int(ctx.now().timestamp()) + 3600
    assert grant.download is False
    assert grant_from(view_image(ctx, ANONYMOUS, public.image_id, download=True).url)[1].download


@pytest.mark.parametrize("expires_in", [1, 60, 604_800])
def test_view_accepts_expiry_in_bounds(ctx: Context, public: Image, expires_in: int) -> None:
    signed = view_image(ctx, ANONYMOUS, public.image_id, expires_in=expires_in)
    assert signed.expires_in == expires_in
    assert grant_from(signed.url)[1].expires == int(ctx.now().timestamp()) + expires_in


@pytest.mark.parametrize("expires_in", [0, -1, 604_801, 10**9])
def test_view_refuses_expiry_out_of_bounds(ctx: Context, public: Image, expires_in: int) -> None:
    with pytest.raises(InvalidInput):
        view_image(ctx, ANONYMOUS, public.image_id, expires_in=expires_in)


def test_view_of_a_private_image_is_for_its_owner_and_admins(ctx: Context, private: Image) -> None:
    for caller in (ANONYMOUS, BOB, TRUSTED_BOB):
        with pytest.raises(NotFound):
            view_image(ctx, caller, private.image_id)
    assert view_image(ctx, ALICE, private.image_id).image == private
    assert view_image(ctx, ADMIN, private.image_id).image == private
    with pytest.raises(NotFound):
        view_image(ctx, ALICE, "no-such-id")


def test_a_signed_url_opens_the_image_for_anyone_until_it_expires(
    ctx: Context, clock: Clock, private: Image
) -> None:
    image_id, grant = grant_from(view_image(ctx, ALICE, private.image_id, expires_in=60).url)
    assert open_content(ctx, ANONYMOUS, image_id=image_id, grant=grant) == private
    clock.advance(60)  # the last valid second
    assert open_content(ctx, ANONYMOUS, image_id=image_id, grant=grant) == private
    clock.advance(1)
    with pytest.raises(Forbidden):
        open_content(ctx, ANONYMOUS, image_id=image_id, grant=grant)


def test_an_altered_signed_url_is_refused(ctx: Context, public: Image, private: Image) -> None:
    image_id, grant = grant_from(view_image(ctx, ALICE, private.image_id).url)
    signature = grant.signature
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    altered = [
        (public.image_id, grant),  # another image
        (image_id, ContentGrant(grant.expires + 1, grant.download, signature)),
        (image_id, ContentGrant(grant.expires - 1, grant.download, signature)),
        (image_id, ContentGrant(grant.expires, not grant.download, signature)),
        (image_id, ContentGrant(grant.expires, grant.download, flipped)),
        (image_id, ContentGrant(grant.expires, grant.download, signature[:-1])),
        (image_id, ContentGrant(grant.expires, grant.download, "")),
        (image_id, ContentGrant(grant.expires, grant.download, "é" * len(signature))),
    ]
    for target, proof in altered:
        with pytest.raises(Forbidden):
            open_content(ctx, ANONYMOUS, image_id=target, grant=proof)
    assert ctx.urls.verify(
        image_id, expires=grant.expires, download=False, signature=signature, now=ctx.now()
    )


def test_a_grant_for_an_unknown_image_is_not_found(ctx: Context, public: Image) -> None:
    _, grant = grant_from(view_image(ctx, ANONYMOUS, public.image_id).url)
    with pytest.raises(NotFound):
        open_content(ctx, ANONYMOUS, image_id="missing", grant=grant)


# ---------------------------------------------------------------------- content


def test_open_content_by_id_or_name_follows_visibility(ctx: Context, public: Image, private: Image) -> None:
    assert open_content(ctx, ANONYMOUS, image_id=public.image_id) == public
    assert open_content(ctx, ANONYMOUS, name="public.png") == public
    for caller in (ANONYMOUS, BOB, TRUSTED_BOB):
        with pytest.raises(NotFound):
            open_content(ctx, caller, image_id=private.image_id)
        with pytest.raises(NotFound):
            open_content(ctx, caller, name="private.png")
    assert open_content(ctx, ALICE, name="private.png") == private
    assert open_content(ctx, ADMIN, image_id=private.image_id) == private
    with pytest.raises(NotFound):
        open_content(ctx, ADMIN, name="missing.png")


def test_read_content_counts_one_access(
    ctx: Context, clock: Clock, public: Image, png: Callable[..., bytes]
) -> None:
    data = read_content(ctx, public)
    assert data == png()
    counted = ctx.catalog.get(public.image_id)
    assert (counted.access_count, counted.last_accessed_at) == (1, ctx.now())
    clock.advance(5)
    part = read_content(ctx, public, 1, 3)
    assert part == png()[1:4]
    counted = ctx.catalog.get(public.image_id)
    assert (counted.access_count, counted.last_accessed_at) == (2, ctx.now())


# ---------------------------------------------------------------------- update


def test_edits_in_the_same_millisecond_still_move_updated_at_on(ctx: Context, public: Image) -> None:
    first = update_image(ctx, ALICE, public.image_id, {"title": "one"})
    second = update_image(ctx, ALICE, public.image_id, {"title": "two"})  # the clock has not moved
    assert public.updated_at < first.updated_at < second.updated_at
    assert second.updated_at - public.updated_at == timedelta(milliseconds=2)


@pytest.mark.parametrize("caller", [ALICE, ADMIN, ROOT, TRUSTED_BOB])
def test_owner_admin_and_trusted_may_update(
    ctx: Context, clock: Clock, public: Image, caller: Caller
) -> None:
    clock.advance(30)
    updated = update_image(
        ctx,
        caller,
        public.image_id,
        {"title": " New ", "tags": "A, b", "category": "Art", "visibility": "private", "name": "new.png"},
    )
    assert (updated.title, updated.tags, updated.category) == ("New", ("a", "b"), "art")
    assert (updated.visibility, updated.name) == (Visibility.PRIVATE, "new.png")
    assert updated.updated_at == ctx.now() != public.updated_at
    assert updated.created_at == public.created_at
    assert ctx.catalog.get(public.image_id) == updated


def test_owner_and_admin_may_update_a_private_image(ctx: Context, private: Image) -> None:
    assert update_image(ctx, ALICE, private.image_id, {"title": "mine"}).title == "mine"
    assert update_image(ctx, ADMIN, private.image_id, {"title": "admin"}).title == "admin"


def test_category_may_be_cleared(ctx: Context, upload: Upload) -> None:
    image = upload("alice", category="pets")
    assert update_image(ctx, ALICE, image.image_id, {"category": None}).category is None


@pytest.mark.parametrize(
    ("caller", "which", "error"),
    [
        (BOB, "public", Forbidden),
        (BOB, "private", NotFound),  # never reveal a private image
        (TRUSTED_BOB, "private", NotFound),
        (ANONYMOUS, "public", Unauthenticated),
        (ANONYMOUS, "private", Unauthenticated),
        (ALICE, "missing", NotFound),
    ],
)
def test_update_refused(
    ctx: Context, public: Image, private: Image, caller: Caller, which: str, error: type[Exception]
) -> None:
    image_id = {"public": public.image_id, "private": private.image_id, "missing": "missing"}[which]
    with pytest.raises(error):
        update_image(ctx, caller, image_id, {"title": "hijacked"})
    assert ctx.catalog.get(public.image_id) == public
    assert ctx.catalog.get(private.image_id) == private


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"name": "private.png"}, Conflict),
        ({"user_id": "bob"}, InvalidInput),
        ({"size": 1}, InvalidInput),
        ({"title": "ok", "access_count": 9}, InvalidInput),
        ({"title": None}, InvalidInput),
        ({"tags": None}, InvalidInput),
        ({"name": ".hidden"}, InvalidInput),
        ({"visibility": "secret"}, InvalidInput),
        ({"title": "t" * 201}, InvalidInput),
        ({"description": "d" * 5001}, InvalidInput),
    ],
)
def test_invalid_updates_change_nothing(
    ctx: Context, public: Image, private: Image, changes: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        update_image(ctx, ALICE, public.image_id, changes)
    assert ctx.catalog.get(public.image_id) == public


def test_unknown_fields_are_refused_before_anything_is_read(ctx: Context) -> None:
    with pytest.raises(InvalidInput, match="s3_key"):
        update_image(ctx, ANONYMOUS, "missing", {"s3_key": "../x"})


def test_keeping_ones_own_name_is_no_conflict(ctx: Context, public: Image) -> None:
    assert update_image(ctx, ALICE, public.image_id, {"name": "public.png"}).name == "public.png"


# ---------------------------------------------------------------------- delete


def test_owner_deletes_bytes_and_metadata(ctx: Context, public: Image) -> None:
    assert delete_image(ctx, ALICE, public.image_id) == public
    with pytest.raises(NotFound):
        ctx.catalog.get(public.image_id)
    assert not ctx.blobs.exists(public.blob_key)
    with pytest.raises(NotFound):
        delete_image(ctx, ALICE, public.image_id)


def test_delete_refusals(ctx: Context, public: Image, private: Image) -> None:
    with pytest.raises(Forbidden):
        delete_image(ctx, BOB, public.image_id)
    with pytest.raises(NotFound):
        delete_image(ctx, BOB, private.image_id)
    with pytest.raises(Unauthenticated):
        delete_image(ctx, ANONYMOUS, public.image_id)
    assert ctx.blobs.exists(public.blob_key)
    assert ctx.blobs.exists(private.blob_key)
    assert delete_image(ctx, ADMIN, private.image_id) == private


def test_bulk_delete_reports_each_id(ctx: Context, upload: Upload) -> None:
    mine = upload("bob")
    mine_private = upload("bob", visibility="private")
    theirs = upload("alice")
    theirs_private = upload("alice", visibility="private")
    ids = [
        mine.image_id,
        theirs.image_id,
        theirs_private.image_id,
        "missing",
        mine_private.image_id,
        mine.image_id,
    ]
    result = delete_images(ctx, BOB, ids)
    assert result.deleted == [mine.image_id, mine_private.image_id]
    assert result.failed == [
        {"image_id": theirs.image_id, "reason": "forbidden"},
        {"image_id": theirs_private.image_id, "reason": "not_found"},
        {"image_id": "missing", "reason": "not_found"},
    ]
    assert ctx.blobs.exists(theirs.blob_key)
    assert ctx.blobs.exists(theirs_private.blob_key)
    assert not ctx.blobs.exists(mine.blob_key)


def test_bulk_delete_with_user_id(ctx: Context, upload: Upload) -> None:
    bobs, alices = upload("bob"), upload("alice")
    with pytest.raises(Forbidden):
        delete_images(ctx, BOB, [bobs.image_id], user_id="alice")
    result = delete_images(ctx, ROOT, [bobs.image_id, alices.image_id], user_id="alice")
    assert result.deleted == [alices.image_id]
    assert result.failed == [{"image_id": bobs.image_id, "reason": "forbidden"}]
    assert delete_images(ctx, BOB, [bobs.image_id], user_id="bob").deleted == [bobs.image_id]


@pytest.mark.parametrize("count", [0, 101])
def test_bulk_delete_needs_1_to_100_ids(ctx: Context, count: int) -> None:
    with pytest.raises(InvalidInput):
        delete_images(ctx, ALICE, [f"id{n}" for n in range(count)])


def test_bulk_delete_needs_an_identity(ctx: Context, public: Image) -> None:
    with pytest.raises(Unauthenticated):
        delete_images(ctx, ANONYMOUS, [public.image_id])
    assert ctx.blobs.exists(public.blob_key)
