"""Pagination invariants of ImageCatalog.find, on every catalog, for random data and queries.

Walking all pages with ``after=page.next`` returns exactly the reference matches
(``ImageQuery.matches``, newest first, image_id as tiebreak), each once and in order; a page
holds ``limit`` images whenever at least that many remain; ``next`` is set exactly when more
remain, so no page is empty while it is set. Few timestamps and short ids make ties common.
On DynamoDB every image lands in one of 4 shards by a hash of its id, so with pages of 1 to 7 the
pages straddle shard boundaries all the time, and the cursors carry read-ahead between pages.

Titles and descriptions come from a small vocabulary with accents, case and punctuation, and
queries carry text searches (``q``, ``title=``, ``description=``) with prefixes; some images
are then edited or deleted, so the text index must follow every write.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from image_service.domain.models import Image, ImageQuery, Keyset, Visibility
from image_service.domain.text import BOTH_FIELDS, TextField, search

T0 = datetime(2026, 3, 1, tzinfo=UTC)
TIMES = [T0 + timedelta(seconds=s) for s in (0, 1, 2, 60, 3600)]
USERS = ["alice", "bob", "carol"]
TAGS = ["a", "b", "c", "d"]
CATEGORIES = [None, "pets", "art"]

TEXT = ["Café", "cafe,", "Sunset", "sunset!", "SUNNY", "sun", "Été", "naïve", "rock'n'roll", "dog", "dogs"]
QUERY_WORDS = ["cafe", "sun", "sunset", "s", "ete", "nai", "naive", "rock", "n", "roll", "dog", "zzz"]
FIELDS = [("q", BOTH_FIELDS), ("title", (TextField.TITLE,)), ("description", (TextField.DESCRIPTION,))]

optional = st.none().__or__
texts = st.lists(st.sampled_from(TEXT), max_size=4).map(" ".join)
text_searches = st.lists(
    st.builds(
        lambda field, chosen: search(field[0], " ".join(chosen), field[1]),
        st.sampled_from(FIELDS),
        st.lists(st.sampled_from(QUERY_WORDS), min_size=1, max_size=3),
    ),
    max_size=2,
).map(tuple)

images_data = st.lists(
    st.tuples(
        st.text("0123abcz", min_size=1, max_size=3),  # image_id: short, so ties sort by it
        st.sampled_from(USERS),
        st.lists(st.sampled_from(TAGS), unique=True, max_size=3),
        st.sampled_from(CATEGORIES),
        st.sampled_from(list(Visibility)),
        st.sampled_from(TIMES),
        texts,
        texts,
    ),
    max_size=30,
    unique_by=lambda row: row[0],
)

# Bounds also fall between and outside the stored times.
bounds = st.sampled_from(
    [*TIMES, T0 - timedelta(seconds=1), T0 + timedelta(milliseconds=1500), T0 + timedelta(days=1)]
)

queries = st.builds(
    ImageQuery,
    user_id=optional(st.sampled_from([*USERS, "nobody"])),
    tags=st.lists(st.sampled_from([*TAGS, "zzz"]), unique=True, max_size=3).map(tuple),
    category=optional(st.sampled_from(["pets", "art", "none-such"])),
    visibility=optional(st.sampled_from(list(Visibility))),
    created_after=optional(bounds),
    created_before=optional(bounds),
    visible_to=optional(st.sampled_from([*USERS, "nobody"])),
    text=text_searches,
)
# After the adds: (row index, new title, new description or None to delete the image).
edits = st.lists(st.tuples(st.integers(0, 29), texts, optional(texts)), max_size=6)


def walk(catalog: Any, query: ImageQuery, limit: int, expected: list[Image]) -> None:
    position = 0
    after: Keyset | None = None
    for _ in range(len(expected) + 1):
        page = catalog.find(query, limit, after)
        assert page.images == expected[position : position + limit], (query, limit, after)
        position += len(page.images)
        more = position < len(expected)
        assert (page.next is not None) == more, (query, limit, after)
        if page.next is None:
            return
        assert page.images, "a page is never empty while next is set"
        assert page.next == Keyset(page.images[-1].created_at, page.images[-1].image_id)
        after = page.next
    raise AssertionError("the walk did not end")


@settings(max_examples=60, deadline=None)
@given(
    rows=images_data,
    cases=st.lists(st.tuples(queries, st.integers(1, 7)), min_size=1, max_size=4),
    changes=edits,
)
def test_walking_all_pages_returns_every_match_once_in_order(
    catalog_factory: Callable[[Path], Any],
    make_image: Callable[..., Image],
    rows: list[tuple[Any, ...]],
    cases: list[tuple[ImageQuery, int]],
    changes: list[tuple[int, str, str | None]],
) -> None:
    images = [
        make_image(
            image_id,
            user_id=user,
            tags=tuple(tags),
            category=category,
            visibility=visibility,
            created_at=created,
            title=title,
            description=description,
        )
        for image_id, user, tags, category, visibility, created, title, description in rows
    ]
    with tempfile.TemporaryDirectory() as directory, catalog_factory(Path(directory)) as catalog:
        for image in images:
            catalog.add(image)
        for index, title, description in changes:
            if index >= len(images):
                continue
            if description is None:
                catalog.remove(images.pop(index).image_id)
            else:
                images[index] = replace(images[index], title=title, description=description)
                catalog.update(images[index])
        for query, limit in cases:
            expected = sorted(
                (i for i in images if query.matches(i)),
                key=lambda i: (i.created_at, i.image_id),
                reverse=True,
            )
            walk(catalog, query, limit, expected)
