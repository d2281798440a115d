"""The ImageCatalog contract, for every adapter (see conftest.CATALOGS)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from datetime import datetime

import pytest

from image_service.domain.errors import Conflict, NotFound
from image_service.domain.models import Image, ImageQuery, Keyset, Visibility
from image_service.domain.text import BOTH_FIELDS, MAX_INDEXED_WORDS, TextField, search
from image_service.ports import ImageCatalog, ImageInventory

MakeImage = Callable[..., Image]
At = Callable[[int], datetime]
PUBLIC, PRIVATE = Visibility.PUBLIC, Visibility.PRIVATE


def ids(catalog: ImageCatalog, query: ImageQuery = ImageQuery(), limit: int = 100) -> list[str]:
    page = catalog.find(query, limit)
    assert page.next is None, "the whole result was expected on one page"
    return [image.image_id for image in page.images]


# ---------------------------------------------------------------------- single images


def test_add_then_get_returns_every_field(catalog: ImageCatalog, make_image: MakeImage, at: At) -> None:
    image = make_image(
        "one", created_at=at(1), updated_at=at(2), access_count=3, last_accessed_at=at(3), category=None
    )
    catalog.add(image)
    assert catalog.get("one") == image
    assert catalog.get_by_name(image.name) == image


def test_defaults_round_trip(catalog: ImageCatalog, make_image: MakeImage) -> None:
    image = make_image("bare", title="", description="", tags=(), category=None, orientation=None)
    catalog.add(image)
    assert catalog.get("bare") == image


def test_unknown_image_is_not_found(catalog: ImageCatalog, make_image: MakeImage, at: At) -> None:
    with pytest.raises(NotFound):
        catalog.get("nope")
    with pytest.raises(NotFound):
        catalog.get_by_name("nope.png")
    with pytest.raises(NotFound):
        catalog.update(make_image("nope"))
    with pytest.raises(NotFound):
        catalog.remove("nope")
    with pytest.raises(NotFound):
        catalog.record_access("nope", at(1))
    assert ids(catalog) == []


def test_duplicate_name_on_add_is_a_conflict_and_changes_nothing(
    catalog: ImageCatalog, make_image: MakeImage
) -> None:
    first = make_image("first", name="cat.png", tags=("a",))
    catalog.add(first)
    with pytest.raises(Conflict):
        catalog.add(make_image("second", name="cat.png", tags=("b",)))
    with pytest.raises(NotFound):
        catalog.get("second")
    assert catalog.get_by_name("cat.png") == first
    assert ids(catalog, ImageQuery(tags=("b",))) == []
    assert ids(catalog) == ["first"]


def test_duplicate_image_id_is_a_conflict(catalog: ImageCatalog, make_image: MakeImage) -> None:
    first = make_image("same", name="one.png")
    catalog.add(first)
    with pytest.raises(Conflict):
        catalog.add(make_image("same", name="two.png"))
    assert catalog.get("same") == first
    with pytest.raises(NotFound):
        catalog.get_by_name("two.png")


def test_update_replaces_metadata(catalog: ImageCatalog, make_image: MakeImage, at: At) -> None:
    image = make_image("u", name="old.png")
    catalog.add(image)
    changed = dataclasses.replace(
        image,
        name="new.png",
        title="New",
        description="",
        tags=("x",),
        category=None,
        visibility=PRIVATE,
        updated_at=at(5),
    )
    catalog.update(changed)
    assert catalog.get("u") == changed
    assert catalog.get_by_name("new.png") == changed
    with pytest.raises(NotFound):
        catalog.get_by_name("old.png")
    catalog.add(make_image("v", name="old.png"))  # the old name is free again


def test_update_to_a_taken_name_is_a_conflict(catalog: ImageCatalog, make_image: MakeImage) -> None:
    a = make_image("a", name="a.png", tags=("one",))
    b = make_image("b", name="b.png", tags=("two",))
    catalog.add(a)
    catalog.add(b)
    with pytest.raises(Conflict):
        catalog.update(dataclasses.replace(b, name="a.png", title="changed", tags=("three",)))
    assert catalog.get("a") == a
    assert catalog.get("b") == b
    assert ids(catalog, ImageQuery(tags=("two",))) == ["b"]
    assert ids(catalog, ImageQuery(tags=("three",))) == []
    catalog.update(dataclasses.replace(b, title="same name is fine"))
    assert catalog.get("b").title == "same name is fine"


def test_update_is_reflected_in_every_filter(catalog: ImageCatalog, make_image: MakeImage) -> None:
    image = make_image("t", tags=("a", "b"), category="pets", visibility=PUBLIC)
    catalog.add(image)
    catalog.update(dataclasses.replace(image, tags=("b", "c"), category="art", visibility=PRIVATE))
    assert ids(catalog, ImageQuery(tags=("a",))) == []
    assert ids(catalog, ImageQuery(tags=("b",))) == ["t"]
    assert ids(catalog, ImageQuery(tags=("c",))) == ["t"]
    assert ids(catalog, ImageQuery(tags=("b", "c"))) == ["t"]
    assert ids(catalog, ImageQuery(tags=("a", "b"))) == []
    assert ids(catalog, ImageQuery(category="pets")) == []
    assert ids(catalog, ImageQuery(category="art")) == ["t"]
    assert ids(catalog, ImageQuery(visibility=PUBLIC)) == []
    assert ids(catalog, ImageQuery(visibility=PRIVATE)) == ["t"]
    assert ids(catalog, ImageQuery(visible_to="bob")) == []
    assert ids(catalog, ImageQuery(visible_to="alice")) == ["t"]
    catalog.update(dataclasses.replace(image, tags=()))
    assert ids(catalog, ImageQuery(tags=("b",))) == []


def test_remove_returns_the_image_and_clears_its_indexes(
    catalog: ImageCatalog, make_image: MakeImage
) -> None:
    image = make_image("r", name="r.png", tags=("a",), category="pets")
    catalog.add(image)
    assert catalog.remove("r") == image
    with pytest.raises(NotFound):
        catalog.get("r")
    with pytest.raises(NotFound):
        catalog.remove("r")
    for query in (
        ImageQuery(),
        ImageQuery(tags=("a",)),
        ImageQuery(category="pets"),
        ImageQuery(user_id="alice"),
    ):
        assert ids(catalog, query) == []
    catalog.add(make_image("r2", name="r.png"))  # the name is free again
    again = make_image("r", name="r-again.png", tags=("a",))  # and so are the id and its tag entries
    catalog.add(again)
    assert ids(catalog, ImageQuery(tags=("a",))) == ["r"]


# ---------------------------------------------------------------------- access counting


def test_record_access_adds_exactly_one(catalog: ImageCatalog, make_image: MakeImage, at: At) -> None:
    image = make_image("c")
    catalog.add(image)
    first = catalog.record_access("c", at(1))
    assert (first.access_count, first.last_accessed_at) == (1, at(1))
    second = catalog.record_access("c", at(2))
    assert (second.access_count, second.last_accessed_at) == (2, at(2))
    assert catalog.get("c") == second
    assert dataclasses.replace(second, access_count=0, last_accessed_at=None) == image  # nothing else moved


def test_record_access_is_atomic_under_threads(catalog: ImageCatalog, make_image: MakeImage, at: At) -> None:
    catalog.add(make_image("hot"))
    # The first access on DynamoDB also writes the list copy of the counters (refreshed at most
    # once a minute); made here, alone, so that the threads race only their ADDs. moto's UpdateItem
    # is not atomic against a concurrent write of the same item (DynamoDB's is), and a refresh
    # racing an ADD there could lose one.
    catalog.record_access("hot", at(1))
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def hammer() -> None:
        try:
            start.wait()
            for _ in range(25):
                catalog.record_access("hot", at(1))
        except BaseException as exc:  # surfaced below: a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert catalog.get("hot").access_count == 201


def test_update_keeps_accesses_counted_since_the_image_was_read(
    catalog: ImageCatalog, make_image: MakeImage, at: At
) -> None:
    catalog.add(make_image("p"))
    read = catalog.get("p")
    catalog.record_access("p", at(1))
    catalog.record_access("p", at(2))
    catalog.update(dataclasses.replace(read, title="edited", updated_at=at(3)))
    stored = catalog.get("p")
    assert stored.title == "edited"
    assert (stored.access_count, stored.last_accessed_at) == (2, at(2))


# ---------------------------------------------------------------------- find


@pytest.fixture
def gallery(catalog: ImageCatalog, make_image: MakeImage, at: At) -> ImageCatalog:
    """Eight images with known facets; ids sort opposite to nothing in particular on purpose."""
    rows = [
        ("g1", "alice", ("cat", "sun"), "pets", PUBLIC, 1),
        ("g2", "alice", ("cat",), "pets", PRIVATE, 2),
        ("g3", "bob", ("sun",), "travel", PUBLIC, 3),
        ("g4", "bob", ("cat", "sun", "sea"), None, PRIVATE, 4),
        ("g5", "carol", (), "pets", PUBLIC, 5),
        ("g6", "alice", ("sea",), "travel", PUBLIC, 6),
        ("g7", "carol", ("cat", "sea"), "art", PRIVATE, 7),
        ("g8", "bob", ("cat",), "pets", PUBLIC, 8),
    ]
    for image_id, user, tags, category, visibility, minute in rows:
        catalog.add(
            make_image(
                image_id,
                user_id=user,
                tags=tags,
                category=category,
                visibility=visibility,
                created_at=at(minute),
                blob_key=f"{user}/{image_id}",
            )
        )
    return catalog


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (ImageQuery(), "g8 g7 g6 g5 g4 g3 g2 g1"),
        (ImageQuery(user_id="alice"), "g6 g2 g1"),
        (ImageQuery(user_id="nobody"), ""),
        (ImageQuery(tags=("cat",)), "g8 g7 g4 g2 g1"),
        (ImageQuery(tags=("cat", "sun")), "g4 g1"),
        (ImageQuery(tags=("sun", "cat")), "g4 g1"),
        (ImageQuery(tags=("cat", "sun", "sea")), "g4"),
        (ImageQuery(tags=("cat", "nope")), ""),
        (ImageQuery(category="pets"), "g8 g5 g2 g1"),
        (ImageQuery(visibility=PUBLIC), "g8 g6 g5 g3 g1"),
        (ImageQuery(visibility=PRIVATE), "g7 g4 g2"),
        (ImageQuery(user_id="alice", tags=("cat",)), "g2 g1"),
        (ImageQuery(user_id="bob", visibility=PUBLIC), "g8 g3"),
        (ImageQuery(tags=("cat",), category="pets", visibility=PUBLIC), "g8 g1"),
        (ImageQuery(visible_to="alice"), "g8 g6 g5 g3 g2 g1"),
        (ImageQuery(visible_to="bob"), "g8 g6 g5 g4 g3 g1"),
        (ImageQuery(visible_to="nobody"), "g8 g6 g5 g3 g1"),
        (ImageQuery(visible_to="bob", tags=("cat", "sea")), "g4"),
        (ImageQuery(visible_to="alice", category="pets"), "g8 g5 g2 g1"),
        (ImageQuery(visible_to="carol", tags=("sea",)), "g7 g6"),
        # visible_to with filters that already decide visibility (the services never send these,
        # but the port must still answer them as the reference does)
        (ImageQuery(visible_to="alice", user_id="bob"), "g8 g3"),
        (ImageQuery(visible_to="alice", user_id="alice"), "g6 g2 g1"),
        (ImageQuery(visible_to="alice", visibility=PRIVATE), "g2"),
        (ImageQuery(visible_to="alice", visibility=PUBLIC), "g8 g6 g5 g3 g1"),
        (ImageQuery(visible_to="alice", user_id="bob", visibility=PRIVATE), ""),
    ],
)
def test_find_filters(gallery: ImageCatalog, query: ImageQuery, expected: str) -> None:
    assert ids(gallery, query) == expected.split()


def test_find_date_bounds_after_inclusive_before_exclusive(gallery: ImageCatalog, at: At) -> None:
    assert ids(gallery, ImageQuery(created_after=at(3))) == ["g8", "g7", "g6", "g5", "g4", "g3"]
    assert ids(gallery, ImageQuery(created_before=at(3))) == ["g2", "g1"]
    assert ids(gallery, ImageQuery(created_after=at(3), created_before=at(6))) == ["g5", "g4", "g3"]
    assert ids(gallery, ImageQuery(created_after=at(3), created_before=at(3))) == []
    query = ImageQuery(created_after=at(2), created_before=at(8), tags=("cat",), visible_to="alice")
    assert ids(gallery, query) == ["g2"]
    query = ImageQuery(created_after=at(2), created_before=at(7), user_id="bob")
    assert ids(gallery, query) == ["g4", "g3"]


def test_find_orders_equal_times_by_image_id_descending(
    catalog: ImageCatalog, make_image: MakeImage, at: At
) -> None:
    for image_id in ("b", "a", "d", "c"):
        catalog.add(make_image(image_id, created_at=at(1)))
    catalog.add(make_image("0-newest", created_at=at(2)))
    catalog.add(make_image("z-oldest", created_at=at(0)))
    assert ids(catalog) == ["0-newest", "d", "c", "b", "a", "z-oldest"]
    assert ids(catalog, ImageQuery(tags=("cat",))) == ["0-newest", "d", "c", "b", "a", "z-oldest"]


def test_find_pages_by_keyset(catalog: ImageCatalog, make_image: MakeImage, at: At) -> None:
    for image_id, minute in [("a", 1), ("b", 1), ("c", 2), ("d", 3), ("e", 3)]:
        catalog.add(make_image(image_id, created_at=at(minute)))
    first = catalog.find(ImageQuery(), 2)
    assert [i.image_id for i in first.images] == ["e", "d"]
    assert first.next == Keyset(at(3), "d")
    second = catalog.find(ImageQuery(), 2, first.next)
    assert [i.image_id for i in second.images] == ["c", "b"]
    assert second.next == Keyset(at(1), "b")
    third = catalog.find(ImageQuery(), 2, second.next)
    assert [i.image_id for i in third.images] == ["a"]
    assert third.next is None


def test_next_is_unset_when_a_page_takes_the_last_match(
    catalog: ImageCatalog, make_image: MakeImage, at: At
) -> None:
    for n in range(4):
        catalog.add(make_image(f"i{n}", created_at=at(n)))
    page = catalog.find(ImageQuery(), 4)
    assert len(page.images) == 4
    assert page.next is None
    assert not page.has_more
    assert catalog.find(ImageQuery(), 3).next == Keyset(at(1), "i1")
    last = catalog.find(ImageQuery(), 3, Keyset(at(1), "i1"))
    assert ([i.image_id for i in last.images], last.next) == (["i0"], None)


def test_after_an_arbitrary_keyset(gallery: ImageCatalog, at: At) -> None:
    # A keyset need not be a stored image: it is a position in the order.
    page = gallery.find(ImageQuery(), 10, Keyset(at(5), "g5"))
    assert [i.image_id for i in page.images] == ["g4", "g3", "g2", "g1"]
    page = gallery.find(ImageQuery(), 10, Keyset(at(5), "zzz"))
    assert [i.image_id for i in page.images] == ["g5", "g4", "g3", "g2", "g1"]
    page = gallery.find(ImageQuery(visible_to="bob", created_before=at(7)), 10, Keyset(at(5), "g5"))
    assert [i.image_id for i in page.images] == ["g4", "g3", "g1"]
    assert gallery.find(ImageQuery(), 10, Keyset(at(0), "g0")).images == []


def test_find_on_an_empty_catalog(catalog: ImageCatalog) -> None:
    page = catalog.find(ImageQuery(tags=("a", "b"), visible_to="x"), 5)
    assert page.images == []
    assert page.next is None


def test_ping_answers(catalog: ImageCatalog) -> None:
    catalog.ping()


def test_the_catalog_serves_fsck_too(catalog: ImageCatalog) -> None:
    assert isinstance(catalog, ImageInventory), "fsck reaches it as FsckStores.of(ctx).images"


def test_all_images_lists_every_image_once(catalog: ImageCatalog, make_image: MakeImage) -> None:
    added = [make_image() for _ in range(7)]
    for image in added:
        catalog.add(image)
    catalog.remove(added[3].image_id)
    expected = {i.image_id for i in added} - {added[3].image_id}
    listed = [i.image_id for i in catalog.all_images()]
    assert sorted(listed) == sorted(expected)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (ImageQuery(visibility=Visibility.PRIVATE, visible_to="carol"), ["c-private"]),
        (ImageQuery(visibility=Visibility.PUBLIC, visible_to="carol"), ["b-public"]),
        (ImageQuery(user_id="alice", visible_to="carol"), []),
        (ImageQuery(user_id="carol", visible_to="carol"), ["c-private"]),
        (ImageQuery(user_id="alice", visibility=Visibility.PRIVATE, visible_to="carol"), []),
        (ImageQuery(visible_to="carol"), ["c-private", "b-public"]),
        (ImageQuery(tags=("cat",), visible_to="carol"), ["c-private", "b-public"]),
    ],
)
def test_visible_to_combined_with_other_filters_pages_exactly(
    catalog: ImageCatalog, make_image: MakeImage, at: At, query: ImageQuery, expected: list[str]
) -> None:
    """Only what the caller may see is read, so pages of one are full and end exactly."""
    for minute, (image_id, user, visibility) in enumerate([
        ("a-private", "alice", Visibility.PRIVATE),
        ("b-public", "bob", Visibility.PUBLIC),
        ("c-private", "carol", Visibility.PRIVATE),
    ]):  # fmt: skip
        catalog.add(make_image(image_id, user_id=user, visibility=visibility, created_at=at(minute)))
    seen: list[str] = []
    after = None
    for _ in range(5):
        page = catalog.find(query, 1, after)
        seen += [i.image_id for i in page.images]
        assert page.images or page.next is None, "never an empty page that promises more"
        if page.next is None:
            break
        after = page.next
    assert seen == expected


def _q(text: str) -> ImageQuery:
    return ImageQuery(text=(search("q", text, BOTH_FIELDS),))


def test_text_search_normalises_prefixes_and_follows_edits(
    catalog: ImageCatalog, make_image: MakeImage
) -> None:
    image = make_image("t", title="Café au lait", description="Sunset, over the SEA")
    catalog.add(image)
    assert ids(catalog, _q("CAFE")) == ["t"]
    assert ids(catalog, _q("sea sun")) == ["t"]
    assert ids(catalog, _q("sun sea")) == [], "only the last word is a prefix"
    assert ids(catalog, ImageQuery(text=(search("title", "sunset", (TextField.TITLE,)),))) == []
    assert ids(catalog, ImageQuery(text=(search("description", "sunset", (TextField.DESCRIPTION,)),))) == [
        "t"
    ]
    catalog.update(dataclasses.replace(image, title="Night train", description=""))
    assert ids(catalog, _q("cafe")) == []
    assert ids(catalog, _q("night tra")) == ["t"]
    catalog.remove("t")
    assert ids(catalog, _q("night")) == []


def test_words_past_the_cap_are_not_searchable(catalog: ImageCatalog, make_image: MakeImage) -> None:
    many = [f"w{n}" for n in range(MAX_INDEXED_WORDS + 3)]
    catalog.add(make_image("t", title="first", description=" ".join(many)))
    assert ids(catalog, _q(many[MAX_INDEXED_WORDS - 2])) == ["t"]
    assert ids(catalog, _q(many[MAX_INDEXED_WORDS - 1])) == [], "the title word took a place"
    assert ids(catalog, _q(many[-1])) == []


@pytest.mark.parametrize(
    "query",
    [
        ImageQuery(),
        ImageQuery(user_id="alice"),
        ImageQuery(tags=("cat",)),
        ImageQuery(tags=("dog",)),
        ImageQuery(category="pets"),
        ImageQuery(visibility=Visibility.PUBLIC),
    ],
    ids=["none", "user", "tag kept", "tag added", "category", "visibility"],
)
def test_find_lists_an_edited_image_as_get_returns_it(
    catalog: ImageCatalog, make_image: MakeImage, at: At, query: ImageQuery
) -> None:
    """Every list shows the image as stored now, every field, not a copy of an earlier state
    (list indexes that carry the images must follow each PATCH)."""
    image = make_image("edited", created_at=at(1))
    catalog.add(image)
    catalog.add(make_image("other", created_at=at(2), tags=("cat", "dog")))
    catalog.update(
        dataclasses.replace(
            image, title="New title", description="New words", tags=("cat", "dog"), updated_at=at(3)
        )
    )
    found = {i.image_id: i for i in catalog.find(query, 10).images}
    assert found["edited"] == catalog.get("edited")
    assert found["edited"].title == "New title" and found["edited"].tags == ("cat", "dog")
