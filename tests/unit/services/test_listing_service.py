"""services/listing.py: who sees what, signed cursors bound to their filters, limits, filters."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from fakes import Clock

from image_service.domain.errors import InvalidInput
from image_service.domain.models import ADMIN, ANONYMOUS, Caller, Image, Visibility
from image_service.domain.signing import Signer
from image_service.services.context import Context
from image_service.services.listing import (
    ListFilters,
    decode_cursor,
    encode_cursor,
    list_images,
    make_filters,
)

ALICE, BOB = Caller(user_id="alice"), Caller(user_id="bob")
Upload = Callable[..., Image]


B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@pytest.fixture
def images(upload: Upload) -> dict[str, Image]:
    """Uploaded oldest to newest: a1, a2 (alice), b1, b2 (bob); a2 and b2 are private."""
    return {
        "a1": upload("alice", tags="cat"),
        "a2": upload("alice", tags="cat,dog", visibility="private"),
        "b1": upload("bob", tags="dog", category="pets"),
        "b2": upload("bob", visibility="private", category="pets"),
    }


def listed(ctx: Context, caller: Caller, images: dict[str, Image], **filters: object) -> list[str]:
    names = {image.image_id: name for name, image in images.items()}
    result = list_images(ctx, caller, make_filters(**filters), limit=100)  # type: ignore[arg-type]
    assert result.next_cursor is None
    return [names[image.image_id] for image in result.page.images]


# ---------------------------------------------------------------------- visibility


@pytest.mark.parametrize(
    ("caller", "filters", "expected"),
    [
        (ANONYMOUS, {}, "b1 a1"),
        (ANONYMOUS, {"user_id": "alice"}, "a1"),
        (ANONYMOUS, {"visibility": "private"}, ""),
        (ANONYMOUS, {"visibility": "public"}, "b1 a1"),
        (ANONYMOUS, {"tags": ["dog"]}, "b1"),
        (ALICE, {}, "b1 a2 a1"),
        (ALICE, {"user_id": "alice"}, "a2 a1"),
        (ALICE, {"user_id": "bob"}, "b1"),
        (ALICE, {"visibility": "private"}, "a2"),
        (ALICE, {"visibility": "private", "user_id": "alice"}, "a2"),
        (ALICE, {"visibility": "private", "user_id": "bob"}, ""),
        (ALICE, {"visibility": "public"}, "b1 a1"),
        (ALICE, {"tags": ["dog"]}, "b1 a2"),
        (ALICE, {"category": "pets"}, "b1"),
        (BOB, {}, "b2 b1 a1"),
        (BOB, {"visibility": "private", "user_id": "alice"}, ""),
        (BOB, {"category": "pets"}, "b2 b1"),
        (Caller(user_id="alice", trusted=True), {}, "b1 a2 a1"),  # reads follow visibility
        (ADMIN, {}, "b2 b1 a2 a1"),
        (ADMIN, {"visibility": "private"}, "b2 a2"),
        (ADMIN, {"user_id": "bob", "visibility": "private"}, "b2"),
        (Caller(user_id="root", is_admin=True), {"tags": ["dog"]}, "b1 a2"),
    ],
)
def test_who_sees_what(
    ctx: Context, images: dict[str, Image], caller: Caller, filters: dict[str, object], expected: str
) -> None:
    assert listed(ctx, caller, images, **filters) == expected.split()


def test_date_filters(ctx: Context, images: dict[str, Image]) -> None:
    a2 = images["a2"].created_at
    assert listed(ctx, ADMIN, images, created_after=a2) == ["b2", "b1", "a2"]
    assert listed(ctx, ADMIN, images, created_before=a2) == ["a1"]
    assert listed(ctx, ADMIN, images, created_after=a2, created_before=a2 + timedelta(seconds=2)) == [
        "b1",
        "a2",
    ]


# ---------------------------------------------------------------------- cursors


def walk(ctx: Context, caller: Caller, filters: ListFilters, limit: int) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor = None
    while True:
        result = list_images(ctx, caller, filters, limit=limit, cursor=cursor)
        pages.append([i.image_id for i in result.page.images])
        assert result.page.has_more == (result.next_cursor is not None)
        if result.next_cursor is None:
            return pages
        assert result.page.images, "never an empty page with a cursor"
        cursor = result.next_cursor


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 100])
def test_cursor_walk_returns_every_image_once(ctx: Context, upload: Upload, limit: int) -> None:
    made = [upload("alice", visibility="private" if n % 3 == 0 else "public") for n in range(11)]
    newest_first = [i.image_id for i in reversed(made)]
    pages = walk(ctx, ALICE, make_filters(), limit)
    assert [i for page in pages for i in page] == newest_first
    assert all(len(page) == limit for page in pages[:-1])
    public = [i.image_id for i in reversed(made) if i.visibility is Visibility.PUBLIC]
    assert [i for page in walk(ctx, ANONYMOUS, make_filters(), limit) for i in page] == public


def test_cursor_walk_with_equal_timestamps(ctx: Context, upload: Upload, clock: Clock) -> None:
    for _ in range(7):
        upload("alice")
        clock.advance(-1)  # every upload at the same instant
    pages = walk(ctx, ANONYMOUS, make_filters(), 2)
    assert [i for page in pages for i in page] == [f"id-{n:04d}" for n in range(7, 0, -1)]


@pytest.fixture
def first_page(ctx: Context, upload: Upload) -> tuple[ListFilters, str]:
    for _ in range(3):
        upload("alice", tags="cat")
    filters = make_filters(tags=["cat"])
    cursor = list_images(ctx, ANONYMOUS, filters, limit=1).next_cursor
    assert cursor is not None
    return filters, cursor


def test_every_single_character_change_is_refused(ctx: Context, first_page: tuple[ListFilters, str]) -> None:
    filters, cursor = first_page
    assert list_images(ctx, ANONYMOUS, filters, limit=1, cursor=cursor).page.images
    payload, _, signature = cursor.partition(".")
    assert payload and len(signature) == 32
    accepted = []
    for index, char in enumerate(cursor):
        if char == ".":
            continue
        for replacement in B64.replace(char, ""):
            tampered = cursor[:index] + replacement + cursor[index + 1 :]
            try:
                list_images(ctx, ANONYMOUS, filters, limit=1, cursor=tampered)
            except InvalidInput:
                continue
            accepted.append(tampered)
    assert accepted == []


@pytest.mark.parametrize("signature", ["é" * 32, "\ud800", "ß"])
def test_a_non_ascii_signature_is_invalid_input(
    ctx: Context, first_page: tuple[ListFilters, str], signature: str
) -> None:
    filters, cursor = first_page
    payload, _, _ = cursor.partition(".")
    with pytest.raises(InvalidInput):
        list_images(ctx, ANONYMOUS, filters, limit=1, cursor=f"{payload}.{signature}")


@pytest.mark.parametrize(
    "changed",
    [
        {"tags": ["dog"]},
        {"tags": ["cat", "dog"]},
        {"tags": []},
        {"tags": ["cat"], "user_id": "alice"},
        {"tags": ["cat"], "category": "pets"},
        {"tags": ["cat"], "visibility": "public"},
    ],
)
def test_cursor_with_other_filters_is_refused(
    ctx: Context, first_page: tuple[ListFilters, str], changed: dict[str, object]
) -> None:
    _, cursor = first_page
    with pytest.raises(InvalidInput):
        list_images(ctx, ANONYMOUS, make_filters(**changed), limit=1, cursor=cursor)  # type: ignore[arg-type]


def test_cursor_with_other_dates_is_refused(ctx: Context, first_page: tuple[ListFilters, str]) -> None:
    _, cursor = first_page
    moved = make_filters(tags=["cat"], created_after=ctx.now() - timedelta(days=1))
    with pytest.raises(InvalidInput):
        list_images(ctx, ANONYMOUS, moved, limit=1, cursor=cursor)


def test_cursor_survives_a_different_limit_and_tag_order(ctx: Context, upload: Upload) -> None:
    for _ in range(4):
        upload("alice", tags="cat,dog")
    cursor = list_images(ctx, ANONYMOUS, make_filters(tags=["cat", "dog"]), limit=1).next_cursor
    page = list_images(ctx, ANONYMOUS, make_filters(tags=["DOG", "cat"]), limit=5, cursor=cursor).page
    assert len(page.images) == 3


def test_cursor_from_another_secret_is_refused(ctx: Context, first_page: tuple[ListFilters, str]) -> None:
    filters, _ = first_page
    page = list_images(ctx, ANONYMOUS, filters, limit=1).page
    assert page.next is not None
    forged = encode_cursor(Signer(b"y" * 32), filters, page.next)
    with pytest.raises(InvalidInput):
        list_images(ctx, ANONYMOUS, filters, limit=1, cursor=forged)
    assert decode_cursor(ctx.signer, filters, encode_cursor(ctx.signer, filters, page.next)) == page.next


@pytest.mark.parametrize(
    "garbage",
    [
        ".",
        "abc",
        "abc.",
        ".abc",
        "!!!.???",
        "a.b.c",
        "é.é",
        "\x00",
        "eyJ9.AAAA",
        "W10.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  # "[]" with a well-formed but wrong signature
        "x" * 10_000,
        "=====.=====",
    ],
)
def test_garbage_cursors_are_invalid_input(ctx: Context, garbage: str) -> None:
    with pytest.raises(InvalidInput):
        list_images(ctx, ANONYMOUS, make_filters(), cursor=garbage)


# ---------------------------------------------------------------------- limits and filters


@pytest.mark.parametrize("limit", [0, -1, 101, 10_000])
def test_limit_out_of_range(ctx: Context, limit: int) -> None:
    with pytest.raises(InvalidInput):
        list_images(ctx, ANONYMOUS, make_filters(), limit=limit)


@pytest.mark.parametrize("limit", [1, 100])
def test_limit_bounds_are_accepted(ctx: Context, limit: int) -> None:
    assert list_images(ctx, ANONYMOUS, make_filters(), limit=limit).page.images == []


def test_make_filters_normalises(ctx: Context) -> None:
    filters = make_filters(
        user_id="alice", tags=[" Cat", "cat", "DOG"], category=" Pets ", visibility="PRIVATE"
    )
    assert filters == ListFilters(
        user_id="alice", tags=("cat", "dog"), category="pets", visibility=Visibility.PRIVATE
    )
    assert make_filters() == ListFilters()


@pytest.mark.parametrize(
    "filters",
    [
        {"created_after": "same", "created_before": "same"},
        {"created_after": "later", "created_before": "earlier"},
        {"user_id": "no spaces allowed"},
        {"user_id": ""},
        {"visibility": "secret"},
        {"tags": ["x" * 51]},
        {"category": "c" * 51},
    ],
)
def test_make_filters_refuses(ctx: Context, filters: dict[str, object]) -> None:
    times = {"same": ctx.now(), "earlier": ctx.now(), "later": ctx.now() + timedelta(seconds=1)}
    values = {
        key: times.get(value, value) if isinstance(value, str) else value for key, value in filters.items()
    }
    with pytest.raises(InvalidInput):
        make_filters(**values)  # type: ignore[arg-type]
