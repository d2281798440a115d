"""The DynamoDB key parsers read back exactly what the builders wrote; text items index what
they should; the text planner picks the rarest word."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from image_service.adapters.dynamodb_items import (
    image_id_of,
    image_key,
    image_partition,
    order_key,
    order_key_parts,
    tag_key,
    tag_of_partition,
    tag_partition,
)
from image_service.adapters.dynamodb_search import choose
from image_service.adapters.dynamodb_words import (
    prefix_key,
    prefix_partition,
    text_items,
    text_sort_key_of,
    vocab_key,
    word_key,
    word_partition,
)
from image_service.aws.table import BY_TEXT, PK, SK, shard_of
from image_service.domain.models import Image, format_time
from image_service.domain.text import BOTH_FIELDS, MAX_INDEXED_WORDS, TextField, indexed_words, search


@pytest.mark.parametrize("image_id", ["img-1", "a#b", "IMAGE#x"])
def test_an_image_id_comes_back_from_its_partition(image_id: str) -> None:
    assert image_id_of(image_partition(image_id)) == image_id
    assert image_key(image_id)[PK]["S"] == tag_key(image_id, "cat")[PK]["S"] == image_partition(image_id)


@pytest.mark.parametrize("tag", ["cat", "c#sharp", "#", "tag#3"])
@pytest.mark.parametrize("shard", [0, 3, 12])
def test_a_tag_comes_back_from_its_partition(tag: str, shard: int) -> None:
    assert tag_of_partition(tag_partition(tag, shard)) == tag


def test_the_time_and_id_come_back_from_an_order_key() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    assert order_key_parts(order_key(at, "img#1")) == (format_time(at), "img#1")


@pytest.mark.parametrize("word", ["sunset", "a", "42", "cafe"])
@pytest.mark.parametrize("shard", [0, 3])
def test_a_text_item_comes_back_from_its_partition(word: str, shard: int) -> None:
    assert text_sort_key_of(word_partition(word, shard)) == word_key("img", word)[SK]["S"]
    assert text_sort_key_of(prefix_partition(word[:3], shard)) == prefix_key("img", word[:3])[SK]["S"]


def test_indexed_words_keep_title_words_first_and_stop_at_the_cap() -> None:
    description = " ".join(f"w{i}" for i in range(MAX_INDEXED_WORDS + 5)) + " sunset"
    found = indexed_words("Sunset, Café", description)
    assert len(found) == MAX_INDEXED_WORDS
    assert list(found)[:3] == ["sunset", "cafe", "w0"]
    assert found["sunset"] == (TextField.TITLE, TextField.DESCRIPTION), "its place was taken in the title"
    assert found["cafe"] == (TextField.TITLE,)
    assert "w99" not in found


def test_text_items_index_each_word_and_each_short_prefix_once() -> None:
    image = Image(
        image_id="img-1", user_id="u", name="n", filename="f", content_type="image/png", format="PNG",
        width=1, height=1, size=1, checksum_sha256="0" * 64, blob_key="k",
        created_at=datetime(2026, 1, 1, tzinfo=UTC), updated_at=datetime(2026, 1, 1, tzinfo=UTC),
        title="Sun sunset", description="sunny",
    )  # fmt: skip
    items = text_items(image)
    assert set(items) == {"WORD#sun", "WORD#sunset", "WORD#sunny", "PREFIX#s", "PREFIX#su", "PREFIX#sun"}
    assert items["WORD#sunny"]["fields"] == {"S": "description"}
    assert items["PREFIX#sun"]["title_words"] == {"S": " sun sunset "}
    assert items["PREFIX#sun"]["description_words"] == {"S": " sunny "}
    assert items["WORD#sun"][BY_TEXT[1]]["S"] == word_partition("sun", shard_of("img-1"))
    assert vocab_key("sunset")[PK]["S"] == vocab_key("sun")[PK]["S"] == "VOCAB#sun"


COUNTS = {"red": 5, "sea": 50, "sunset": 7, "sunsets": 1}


def counts(words: list[str]) -> dict[str, int]:
    return {w: COUNTS[w] for w in words if w in COUNTS}


def expand(prefix: str, most: int) -> dict[str, int] | None:
    found = {w: n for w, n in COUNTS.items() if w.startswith(prefix)}
    return None if len(found) > most else found


@pytest.mark.parametrize(
    ("text", "fields", "keys", "exact"),
    [
        ("sunset", BOTH_FIELDS, ("WORD#sunset", "WORD#sunsets"), True),
        ("sun", BOTH_FIELDS, ("PREFIX#sun",), True),
        ("red sea", BOTH_FIELDS, ("WORD#red",), False),  # the rarer word drives
        ("sea sunsets", BOTH_FIELDS, ("WORD#sunsets",), False),  # so may the last word, expanded
        ("sea s", BOTH_FIELDS, ("WORD#sea",), False),  # a short prefix has no count
        ("sunset", (TextField.TITLE,), ("WORD#sunset", "WORD#sunsets"), True),
    ],
)
def test_the_rarest_word_drives_a_text_search(
    text: str, fields: tuple[TextField, ...], keys: tuple[str, ...], exact: bool
) -> None:
    driver = choose((search("q", text, fields),), counts, expand)
    assert driver is not None
    assert (driver.keys, driver.exact) == (keys, exact)
    assert bool(driver.conditions) == (fields != BOTH_FIELDS)


def test_a_word_in_no_image_matches_nothing() -> None:
    assert choose((search("q", "nowhere sea", BOTH_FIELDS),), counts, expand) is None
    assert choose((search("q", "sea nowh", BOTH_FIELDS),), counts, expand) is None


def test_a_prefix_of_too_many_words_reads_its_three_letter_partition_with_a_filter() -> None:
    driver = choose((search("q", "suns", BOTH_FIELDS),), counts, lambda p, most: None)
    assert driver is not None and driver.keys == ("PREFIX#sun",) and driver.exact
    assert driver.values[":prefix"] == {"S": " suns"}
