"""Text search on DynamoDB Local: the word, prefix and vocabulary items follow every add, PATCH and
delete; prefixes, several words and field restrictions answer exactly what ``ImageQuery.matches``
says, page after page; the cap on indexed words holds; and a one-word search reads about one
index item per image it returns."""

from __future__ import annotations

import dataclasses
import itertools
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aws_emulators import fresh_resources
from botocore.exceptions import ClientError

from image_service.adapters.dynamodb_catalog import DynamoDBImageCatalog
from image_service.adapters.dynamodb_search import MAX_EXPANSION
from image_service.adapters.dynamodb_words import text_items, vocab_key
from image_service.aws.table import BY_USER
from image_service.domain.errors import BackendUnavailable
from image_service.domain.models import Image, ImageQuery, Keyset, Visibility
from image_service.domain.text import BOTH_FIELDS, MAX_INDEXED_WORDS, TextField, search, unindexed_words

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
_serial = itertools.count()


def make_image(**fields: Any) -> Image:
    n = next(_serial)
    values: dict[str, Any] = {
        "image_id": f"img-{n:05d}",
        "user_id": "alice",
        "name": f"img-{n:05d}.png",
        "filename": "a.png",
        "content_type": "image/png",
        "format": "PNG",
        "width": 3,
        "height": 2,
        "size": 100,
        "checksum_sha256": "0" * 64,
        "blob_key": f"alice/{n}",
        "created_at": T0 + timedelta(seconds=n),
        "updated_at": T0,
    }
    return Image(**(values | fields))


def q(text: str, fields: tuple[TextField, ...] = BOTH_FIELDS, **filters: Any) -> ImageQuery:
    return ImageQuery(text=(search("q", text, fields),), **filters)


def walk(catalog: DynamoDBImageCatalog, query: ImageQuery, limit: int = 2) -> list[str]:
    """Every page of ``query``, checking the page invariants on the way."""
    found: list[str] = []
    after: Keyset | None = None
    while True:
        page = catalog.find(query, limit, after)
        assert page.images or not page.has_more, "an empty page promised more"
        assert len(page.images) == limit or not page.has_more, "a page short of its limit promised more"
        found += [i.image_id for i in page.images]
        if page.next is None:
            return found
        after = page.next


def expected(images: list[Image], query: ImageQuery) -> list[str]:
    matching = [i for i in images if query.matches(i)]
    return [i.image_id for i in sorted(matching, key=lambda i: (i.created_at, i.image_id), reverse=True)]


@pytest.fixture
def catalog() -> Iterator[DynamoDBImageCatalog]:
    yield fresh_resources().catalog()


def text_sort_keys(catalog: DynamoDBImageCatalog, image_id: str) -> set[str]:
    return set(catalog.words.items_of(image_id))


def vocab_count(catalog: DynamoDBImageCatalog, word: str) -> int | None:
    item = catalog.table.get(vocab_key(word), "test")
    return None if item is None else int(item["images"]["N"])


def test_an_upload_writes_one_item_per_word_and_per_short_prefix(catalog: DynamoDBImageCatalog) -> None:
    image = make_image(title="Sunset, Café", description="sunset at the cafe")
    catalog.add(image)
    assert text_sort_keys(catalog, image.image_id) == {
        *("WORD#sunset", "WORD#cafe", "WORD#at", "WORD#the"),
        *("PREFIX#s", "PREFIX#su", "PREFIX#sun", "PREFIX#c", "PREFIX#ca", "PREFIX#caf"),
        *("PREFIX#a", "PREFIX#at", "PREFIX#t", "PREFIX#th", "PREFIX#the"),
    }
    assert vocab_count(catalog, "sunset") == 1
    catalog.add(make_image(title="sunset again"))
    assert vocab_count(catalog, "sunset") == 2


def test_a_patch_rewrites_only_the_changed_words(catalog: DynamoDBImageCatalog) -> None:
    image = make_image(title="red fox", description="quick brown")
    catalog.add(image)
    before = catalog.words.items_of(image.image_id)
    catalog.update(dataclasses.replace(image, title="red wolf"))
    after = catalog.words.items_of(image.image_id)
    changed = {sk for sk in before.keys() | after.keys() if before.get(sk) != after.get(sk)}
    fox, wolf = ("WORD#fox", "PREFIX#f", "PREFIX#fo", "PREFIX#fox"), ("WORD#wolf", "PREFIX#w", "PREFIX#wo")
    assert changed == {*fox, *wolf, "PREFIX#wol"}, "red, quick, brown and their prefixes are untouched"
    assert catalog.words.sync(catalog.get(image.image_id)) == 0, "in step: nothing to rewrite"
    assert walk(catalog, q("fox")) == []
    assert walk(catalog, q("wolf")) == [image.image_id]
    assert (vocab_count(catalog, "fox"), vocab_count(catalog, "wolf")) == (0, 1)


def test_changing_a_filter_field_rewrites_every_text_item(catalog: DynamoDBImageCatalog) -> None:
    image = make_image(title="red fox")
    catalog.add(image)
    catalog.update(dataclasses.replace(image, visibility=Visibility.PRIVATE, tags=("animal",)))
    assert walk(catalog, q("fox", visibility=Visibility.PUBLIC)) == []
    assert walk(catalog, q("fox", visibility=Visibility.PRIVATE, tags=("animal",))) == [image.image_id]


def test_a_delete_removes_every_text_item(catalog: DynamoDBImageCatalog) -> None:
    image = make_image(title="red fox", description="fox")
    catalog.add(image)
    catalog.remove(image.image_id)
    assert text_sort_keys(catalog, image.image_id) == set()
    assert vocab_count(catalog, "fox") == 0, "counted out, but kept in the vocabulary"
    assert walk(catalog, q("fox")) == []


@pytest.fixture(scope="module")
def library() -> tuple[DynamoDBImageCatalog, list[Image]]:
    """Read only: one table for every query below."""
    catalog = fresh_resources().catalog()
    texts = [
        ("Sunset over the sea", "red sky at night"),
        ("Sunsets", "many sunset photos"),
        ("Sunny day", "the sea is calm"),
        ("Sundown", "red sun, blue sea"),
        ("Red car", "parked by the sea"),
        ("Blue car", "sunset colours"),
        ("Night sky", "stars over the sea"),
        ("Café au lait", "a cup of coffee"),
        ("Sunset", ""),
        ("", "SUNSET!"),
        ("Sea view", "sunsetting sun"),
    ]
    images = []
    for i, (title, description) in enumerate(texts):
        image = make_image(
            title=title,
            description=description,
            user_id="alice" if i % 2 else "bob",
            tags=("beach",) if "sea" in (title + description).lower() else (),
            visibility=Visibility.PRIVATE if i % 4 == 3 else Visibility.PUBLIC,
        )
        catalog.add(image)
        images.append(image)
    return catalog, images


QUERIES = [
    q("sunset"),  # a 4+ letter prefix: the words sunset, sunsets, sunsetting merged
    q("sunse"),
    q("s"),
    q("su"),
    q("sun"),
    q("sea"),
    q("cafe"),
    q("CAFÉ"),
    q("red sea"),
    q("sea red"),
    q("the sea"),
    q("red s"),
    q("night sky"),
    q("nomatch"),
    q("red nomatch"),
    q("sunset", (TextField.TITLE,)),
    q("sunset", (TextField.DESCRIPTION,)),
    q("sun", (TextField.TITLE,)),
    q("suns", (TextField.DESCRIPTION,)),
    q("sea", user_id="alice"),
    q("sea", tags=("beach",), visibility=Visibility.PUBLIC),
    q("s", visible_to="bob"),
    ImageQuery(text=(search("q", "sea", BOTH_FIELDS), search("title", "sun", (TextField.TITLE,)))),
    ImageQuery(text=(search("q", "s", BOTH_FIELDS), search("description", "re", (TextField.DESCRIPTION,)))),
]


@pytest.mark.parametrize("query", QUERIES, ids=lambda query: repr([t.key() for t in query.text]))
def test_every_text_query_answers_what_matches_says(
    library: tuple[DynamoDBImageCatalog, list[Image]], query: ImageQuery
) -> None:
    catalog, images = library
    assert walk(catalog, query.canonical() or query) == expected(images, query)


def test_the_last_page_of_a_several_word_search_never_promises_more(catalog: DynamoDBImageCatalog) -> None:
    """ "red" is the rarer word, so its partition drives and "apple" is checked on each image. The
    rows past a full page are older images with "red" only: has_more must see that they do not
    match, not just that rows are left."""
    decoys = [make_image(title="red") for _ in range(2)]
    matching = [make_image(title="red apple") for _ in range(3)]
    for image in decoys + matching + [make_image(title="apple") for _ in range(6)]:
        catalog.add(image)
    query = q("apple red")
    page = catalog.find(query, 3)
    assert [i.image_id for i in page.images] == expected(matching, query)
    assert not page.has_more
    assert walk(catalog, query, 1) == expected(matching, query)
    assert walk(catalog, query, 2) == expected(matching, query)


def test_a_prefix_of_too_many_words_is_answered_from_its_three_letter_partition(
    catalog: DynamoDBImageCatalog,
) -> None:
    images = [make_image(title=f"parrot{chr(97 + i)}") for i in range(MAX_EXPANSION + 2)]
    images.append(make_image(title="parsley"))
    for image in images:
        catalog.add(image)
    assert walk(catalog, q("parro"), 3) == expected(images, q("parro"))
    assert walk(catalog, q("parrotb")) == expected(images, q("parrotb"))


def test_words_past_the_cap_are_not_indexed_and_are_counted(catalog: DynamoDBImageCatalog) -> None:
    extra = 7
    description = " ".join(f"w{i}" for i in range(MAX_INDEXED_WORDS + extra))
    image = make_image(title="capped", description=description)
    catalog.add(image)
    words = [sk for sk in text_sort_keys(catalog, image.image_id) if sk.startswith("WORD#")]
    assert len(words) == MAX_INDEXED_WORDS
    assert unindexed_words(image.title, image.description) == extra + 1, (
        "the title word took one of the places"
    )
    assert walk(catalog, q("w0")) == [image.image_id]
    assert walk(catalog, q(f"w{MAX_INDEXED_WORDS + extra - 1}")) == [], "past the cap: not searchable"
    assert unindexed_words("a b", "b c") == 0


def test_a_one_word_search_reads_about_one_item_per_image(catalog: DynamoDBImageCatalog) -> None:
    """A sanity bound on a small catalog (the benchmark measures it at scale): items the
    ``by_text`` Queries scanned, per image returned, over a walk of pages of 5."""
    images = [make_image(title="sunset" if i % 3 else "sunrise", description=f"photo {i}") for i in range(40)]
    for image in images:
        catalog.add(image)
    scanned: list[int] = []

    def mark(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["by_text"] = params.get("IndexName") == "by_text"

    def count(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if context.get("by_text"):
            scanned.append(parsed.get("ScannedCount", 0))

    events = catalog.table.client.meta.events
    events.register("before-parameter-build.dynamodb.Query", mark)
    events.register("after-call.dynamodb.Query", count)
    found = walk(catalog, q("sunset"), 5)
    assert found == expected(images, q("sunset"))
    assert len(scanned) >= 4, "the word's four shards, at least"
    assert sum(scanned) / len(found) <= 1.2


def test_a_user_with_fewer_images_than_the_word_drives_the_search(catalog: DynamoDBImageCatalog) -> None:
    """Users' images are counted per visibility; a search with ``user_id`` reads the user's
    partition when it is the smaller (and counted in every visibility it covers), and the word's
    otherwise: the same answer either way."""
    common = [make_image(title="common word", user_id="many") for _ in range(6)]
    mine = [make_image(title="common", user_id="few"), make_image(title="rare", user_id="few")]
    mine.append(make_image(title="other", user_id="few", visibility=Visibility.PRIVATE))
    for image in common + mine:
        catalog.add(image)
    catalog.update(dataclasses.replace(common[0], visibility=Visibility.PRIVATE))
    catalog.remove(common[1].image_id)
    assert catalog.words.user_images("many", [Visibility.PUBLIC]) == 4
    assert catalog.words.user_images("many", list(Visibility)) == 5
    assert catalog.words.user_images("nobody", list(Visibility)) is None
    indexes: list[str] = []

    def seen(params: dict[str, Any], **_: Any) -> None:
        indexes.append(params.get("IndexName", ""))

    catalog.table.client.meta.events.register("before-parameter-build.dynamodb.Query", seen)
    assert walk(catalog, q("common", user_id="few")) == [mine[0].image_id]
    assert BY_USER[0] in indexes and "by_text" not in indexes, "the user's 3 images, not the word's 7"
    indexes.clear()
    assert walk(catalog, q("rare", user_id="many")) == []
    assert walk(catalog, q("word", user_id="many")) == [i.image_id for i in reversed(common[2:])] + [
        common[0].image_id
    ]
    assert "by_text" in indexes and BY_USER[0] not in indexes, "the word's 5 images, not the user's 5"


def test_concurrent_patches_leave_the_words_of_the_last_one(catalog: DynamoDBImageCatalog) -> None:
    image = make_image(title="start")
    catalog.add(image)

    def patch(who: str) -> None:
        for n in range(4):
            catalog.update(dataclasses.replace(catalog.get(image.image_id), title=f"{who}{n} shared"))

    threads = [threading.Thread(target=patch, args=(who,)) for who in ("left", "right")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    final = catalog.get(image.image_id)
    assert catalog.words.items_of(image.image_id) == text_items(final)
    assert walk(catalog, q(final.title)) == [image.image_id]


def test_text_items_left_behind_by_a_delete_never_promise_a_page(catalog: DynamoDBImageCatalog) -> None:
    """A delete whose text cleanup failed (simulated: the older image's items put back after its
    delete) leaves index items of an image that is gone. A one-word search must not count such an
    item as "one more"; the list that meets it deletes it."""
    older, newer = make_image(title="orphanword"), make_image(title="orphanword")
    catalog.add(older)
    catalog.add(newer)
    left_behind = catalog.words.items_of(older.image_id)
    catalog.remove(older.image_id)
    for item in left_behind.values():
        catalog.table.client.put_item(TableName=catalog.table.name, Item=item)
    page = catalog.find(q("orphanword"), 1)
    assert [i.image_id for i in page.images] == [newer.image_id]
    assert not page.has_more, "the next row is an image that is gone"
    assert text_sort_keys(catalog, older.image_id) == set(), "the list that met them deleted them"
    assert walk(catalog, q("orphanword"), 1) == [newer.image_id]


def test_an_upload_whose_words_land_after_a_patch_leaves_the_patch_s_words(
    catalog: DynamoDBImageCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upload's text items are written after its transaction: a PATCH (or a delete) that lands
    in between must win, as between two PATCHes."""
    sync = catalog.words.sync
    race: list[Any] = []

    def racing_sync(image: Image, **kwargs: Any) -> int:
        if kwargs.get("new") and race:
            race.pop()(image)  # lands after the upload's transaction, before its words
        return sync(image, **kwargs)

    monkeypatch.setattr(catalog.words, "sync", racing_sync)
    patched = make_image(title="first title")
    race.append(lambda image: catalog.update(dataclasses.replace(image, title="second title")))
    catalog.add(patched)
    assert catalog.words.items_of(patched.image_id) == text_items(catalog.get(patched.image_id))
    assert walk(catalog, q("first")) == []
    deleted = make_image(title="gone title")
    race.append(lambda image: catalog.remove(image.image_id))
    catalog.add(deleted)
    assert text_sort_keys(catalog, deleted.image_id) == set()


def test_a_list_while_an_index_is_backfilling_is_unavailable_not_an_error(
    catalog: DynamoDBImageCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Right after a deploy that adds ``by_text``, DynamoDB refuses Queries of it until its
    backfill ends (a ValidationException): a 503 to retry, not a 500. Other validation errors
    stay bugs."""
    catalog.add(make_image(title="sunset"))

    def refuse(message: str) -> Any:
        def query(**_: Any) -> Any:
            error = {"Error": {"Code": "ValidationException", "Message": message}}
            raise ClientError(error, "Query")  # type: ignore[arg-type]

        return query

    monkeypatch.setattr(
        catalog.table.client, "query", refuse("Cannot read from backfilling global secondary index: by_text")
    )
    with pytest.raises(BackendUnavailable):
        catalog.find(q("sunset"), 5)
    monkeypatch.setattr(catalog.table.client, "query", refuse("Invalid KeyConditionExpression"))
    with pytest.raises(ClientError):
        catalog.find(q("sunset"), 5)
