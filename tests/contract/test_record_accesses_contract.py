"""ImageCatalog.record_accesses, the batched access counts, for every adapter (conftest.CATALOGS)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from datetime import datetime

import pytest

from image_service.domain.errors import NotFound
from image_service.domain.models import Image, ImageQuery
from image_service.ports import ImageCatalog

MakeImage = Callable[..., Image]
At = Callable[[int], datetime]


def test_a_batch_adds_each_count_and_moves_each_time(
    catalog: ImageCatalog, make_image: MakeImage, at: At
) -> None:
    first, second = make_image("a"), make_image("b")
    catalog.add(first)
    catalog.add(second)
    assert catalog.record_accesses({"a": (3, at(5)), "b": (1, at(2))}) == {}
    assert (catalog.get("a").access_count, catalog.get("a").last_accessed_at) == (3, at(5))
    assert (catalog.get("b").access_count, catalog.get("b").last_accessed_at) == (1, at(2))
    assert catalog.record_accesses({"a": (2, at(7))}) == {}
    stored = catalog.get("a")
    assert (stored.access_count, stored.last_accessed_at) == (5, at(7))
    assert dataclasses.replace(stored, access_count=0, last_accessed_at=None) == first  # nothing else moved
    assert catalog.record_accesses({}) == {}


def test_an_older_batch_adds_its_count_but_keeps_the_later_time(
    catalog: ImageCatalog, make_image: MakeImage, at: At
) -> None:
    """Two processes flush out of order: the count is a sum, the time the latest of them."""
    catalog.add(make_image("a"))
    catalog.record_accesses({"a": (2, at(9))})
    assert catalog.record_accesses({"a": (4, at(3))}) == {}
    stored = catalog.get("a")
    assert (stored.access_count, stored.last_accessed_at) == (6, at(9))
    catalog.record_access("a", at(10))  # single and batched counts add up
    assert (catalog.get("a").access_count, catalog.get("a").last_accessed_at) == (7, at(10))


def test_a_deleted_image_is_skipped_and_not_recreated(
    catalog: ImageCatalog, make_image: MakeImage, at: At
) -> None:
    catalog.add(make_image("gone"))
    catalog.add(make_image("kept"))
    catalog.remove("gone")
    assert catalog.record_accesses({"gone": (4, at(1)), "kept": (2, at(1))}) == {}
    assert catalog.get("kept").access_count == 2
    with pytest.raises(NotFound):
        catalog.get("gone")
    # No partial item holds the id (an add would find it taken), and nothing counted survives.
    catalog.add(make_image("gone", name="again.png"))
    assert catalog.get("gone").access_count == 0


def test_batches_from_threads_are_exact(catalog: ImageCatalog, make_image: MakeImage, at: At) -> None:
    for image_id in ("x", "y"):
        catalog.add(make_image(image_id, tags=()))
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def hammer(n: int) -> None:
        try:
            start.wait()
            for _ in range(5):
                catalog.record_accesses({"x": (n, at(n)), "y": (1, at(1))})
                catalog.record_access("y", at(1))
        except BaseException as exc:  # surfaced below: a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(1, 7)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert (catalog.get("x").access_count, catalog.get("x").last_accessed_at) == (5 * 21, at(6))
    assert catalog.get("y").access_count == 60


def test_every_list_shows_the_batched_counts(catalog: ImageCatalog, make_image: MakeImage, at: At) -> None:
    """Whatever a list reads (on DynamoDB, the tag items are copies of the image), it shows them."""
    catalog.add(make_image("a", tags=("cat", "sunset"), category="pets"))
    catalog.record_accesses({"a": (7, at(4))})
    for query in (
        ImageQuery(),
        ImageQuery(tags=("cat",)),
        ImageQuery(tags=("sunset",)),
        ImageQuery(user_id="alice"),
    ):
        [listed] = catalog.find(query, 10).images
        assert (listed.access_count, listed.last_accessed_at) == (7, at(4)), query
