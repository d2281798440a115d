"""Every list filter of API.md is answered from a SQLite index: no table scan, no sort step.
Text search (``q``, ``title=``, ``description=``) too, alone and with every other filter: the
FTS5 index drives, or a facet index drives with the FTS5 index as a probe; never a scan of
``images``.

The plans are read with EXPLAIN QUERY PLAN on the SQL that ``SqliteImageCatalog.list_sql``
builds, on a few hundred rows after ANALYZE (so the planner has statistics to be tempted by),
and the rows the same SQL returns are checked against the in-memory reference.
"""

from __future__ import annotations

import itertools
import random
import re
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import pytest

from image_service.adapters.sqlite_catalog import SqliteImageCatalog
from image_service.adapters.sqlite_schema import open_database
from image_service.domain.models import ADMIN, Caller, Image, ImageQuery, Keyset, Visibility
from image_service.domain.text import BOTH_FIELDS, TextField, TextSearch, search
from image_service.services.listing import ListFilters, query_for

T0 = datetime(2026, 1, 1, tzinfo=UTC)
USERS = ["alice", "bob", "carol", "dave", "erin", "frank"]
TAGS = ["cat", "dog", "sun", "sea", "red", "tree", "snow", "rare"]
CATEGORIES = [None, "pets", "travel", "art"]
PUBLIC, PRIVATE = Visibility.PUBLIC, Visibility.PRIVATE
AFTER = Keyset(T0 + timedelta(minutes=150), "img-0200")
PAGE = 20
FTS_MATCH = re.compile(r"SCAN \w+ VIRTUAL TABLE INDEX \d+:\S*M\S*")
# Titles and descriptions: "common" in most images, "sunset"/"sunny" in some, "rare" in few.
WORDS = ["common", "sunset", "sunny", "sea", "night", "city", "snow"]


def q(text: str) -> tuple[TextSearch, ...]:
    return (search("q", text, BOTH_FIELDS),)


def title(text: str) -> TextSearch:
    return search("title", text, (TextField.TITLE,))


def description(text: str) -> TextSearch:
    return search("description", text, (TextField.DESCRIPTION,))


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


class Populated(NamedTuple):
    catalog: SqliteImageCatalog
    images: list[Image]
    path: Path  # the database file, for EXPLAIN on a connection of the test's own


@pytest.fixture(scope="module")
def populated(
    tmp_path_factory: pytest.TempPathFactory, make_image: Callable[..., Image]
) -> Iterator[Populated]:
    rng = random.Random(20260101)
    words = random.Random(7)  # its own stream: the other columns stay as they were
    path = tmp_path_factory.mktemp("plans") / "c.db"
    db = open_database(path)
    catalog = SqliteImageCatalog(db)
    images = []
    for n in range(400):
        created = minutes(rng.randrange(300))  # 400 rows on 300 minutes: many ties
        tags = rng.sample(TAGS[:-1], rng.randrange(4))
        if n % 37 == 0:
            tags = sorted({*tags, "cat", "sun", "rare"})
        image = make_image(
            f"img-{n:04d}",
            user_id=rng.choices(USERS, weights=[40, 20, 10, 10, 10, 10])[0],
            created_at=created,
            tags=tuple(tags),
            category=rng.choice(CATEGORIES),
            visibility=rng.choice([PUBLIC, PUBLIC, PRIVATE]),
            title=" ".join(words.sample(WORDS, 3)) + (" Rare!" if n % 41 == 0 else ""),
            description=" ".join(words.sample(WORDS, 2)) + (", common" if n % 3 else ""),
        )
        catalog.add(image)
        images.append(image)
    with sqlite3.connect(path) as conn:
        conn.execute("ANALYZE")
    conn.close()
    yield Populated(catalog, images, path)
    db.close()


DATES = {"created_after": minutes(40), "created_before": minutes(200)}

NAMED = {
    "none": ImageQuery(),
    "user": ImageQuery(user_id="alice"),
    "rare user": ImageQuery(user_id="frank"),
    "tag": ImageQuery(tags=("cat",)),
    "rare tag": ImageQuery(tags=("rare",)),
    "several tags": ImageQuery(tags=("cat", "sun")),
    "three tags": ImageQuery(tags=("cat", "sun", "rare")),
    "category": ImageQuery(category="pets"),
    "visibility public": ImageQuery(visibility=PUBLIC),
    "visibility private": ImageQuery(visibility=PRIVATE),
    "date range": ImageQuery(**DATES),
    "created after": ImageQuery(created_after=minutes(100)),
    "created before": ImageQuery(created_before=minutes(20)),
    "user+tag": ImageQuery(user_id="alice", tags=("dog",)),
    "user+public": ImageQuery(user_id="bob", visibility=PUBLIC),
    "user+tags+category+date": ImageQuery(user_id="alice", tags=("sun", "sea"), category="art", **DATES),
    "tag+public": ImageQuery(tags=("cat",), visibility=PUBLIC),
    "category+public+date": ImageQuery(category="travel", visibility=PUBLIC, **DATES),
    "visible_to": ImageQuery(visible_to="bob"),
    "visible_to+tag": ImageQuery(visible_to="bob", tags=("sea",)),
    "visible_to+tags": ImageQuery(visible_to="alice", tags=("cat", "tree")),
    "visible_to+category": ImageQuery(visible_to="carol", category="pets"),
    "visible_to+date": ImageQuery(visible_to="dave", **DATES),
    "visible_to+everything": ImageQuery(visible_to="alice", tags=("dog", "red"), category="pets", **DATES),
    "common word": ImageQuery(text=q("common")),
    "rare word": ImageQuery(text=q("rare")),
    "two words": ImageQuery(text=q("sunset sea")),
    "prefix": ImageQuery(text=q("sun")),
    "one-letter prefix": ImageQuery(text=q("s")),
    "word+user": ImageQuery(text=q("common"), user_id="alice"),
    "word+rare user": ImageQuery(text=q("common"), user_id="frank"),
    "rare word+user": ImageQuery(text=q("rare"), user_id="alice"),
    "word+tag": ImageQuery(text=q("common"), tags=("cat",)),
    "word+rare tag": ImageQuery(text=q("common"), tags=("rare",)),
    "word+category+date": ImageQuery(text=q("night"), category="pets", **DATES),
    "word+public": ImageQuery(text=q("city"), visibility=PUBLIC),
    "word+visible_to": ImageQuery(text=q("sunset"), visible_to="bob"),
    "rare word+visible_to": ImageQuery(text=q("rare"), visible_to="carol"),
    "title": ImageQuery(text=(title("sunset"),)),
    "description": ImageQuery(text=(description("common"),)),
    "title+description+q": ImageQuery(text=(title("sea"), description("night"), *q("city s"))),
    "title+user+tag": ImageQuery(text=(title("snow"),), user_id="alice", tags=("dog",)),
}


def plan(populated: Populated, query: ImageQuery, after: Keyset | None) -> list[str]:
    lines = []
    with sqlite3.connect(populated.path) as conn:
        for sql, params in populated.catalog.list_statements(query, PAGE + 1, after):
            lines += [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
    conn.close()
    return lines


def assert_indexed(populated: Populated, query: ImageQuery, after: Keyset | None) -> None:
    lines = plan(populated, query, after)
    text = "\n".join(lines)
    assert not [line for line in lines if "TEMP B-TREE" in line], text
    # The FTS5 index answers a MATCH (":M" in its plan) from the words' doclists: for a virtual
    # table "SCAN" is the only word SQLite has, so that line is allowed, and only that one.
    scans = [line for line in lines if line.startswith("SCAN") and not FTS_MATCH.fullmatch(line)]
    assert not [line for line in scans if not re.search(r"USING (COVERING )?INDEX", line)], text
    if query != ImageQuery():
        # A filter must be a range of an index (SEARCH), not a walk of a whole index.
        assert scans == [], text
    if query.text:
        assert [line for line in lines if FTS_MATCH.fullmatch(line)], text


def reference(images: list[Image], query: ImageQuery, after: Keyset | None) -> list[Image]:
    found = [
        i
        for i in images
        if query.matches(i)
        and (after is None or (i.created_at, i.image_id) < (after.created_at, after.image_id))
    ]
    return sorted(found, key=lambda i: (i.created_at, i.image_id), reverse=True)[:PAGE]


@pytest.mark.parametrize("after", [None, AFTER], ids=["first page", "after keyset"])
@pytest.mark.parametrize("query", NAMED.values(), ids=NAMED.keys())
def test_each_api_filter_is_answered_from_an_index(
    populated: Populated, query: ImageQuery, after: Keyset | None
) -> None:
    catalog, images, _ = populated
    assert_indexed(populated, query, after)
    expected = reference(images, query, after)
    assert expected, "the data set should make every named query match something"
    assert catalog.find(query, PAGE, after).images == expected


def service_queries() -> Iterator[ImageQuery]:
    """Every query the listing service can send, for each kind of caller."""
    callers = [Caller(), Caller(user_id="alice"), Caller(user_id="bob"), ADMIN]
    for user, tags, category, visibility, dates, text in itertools.product(
        [None, "alice", "erin"],
        [(), ("cat",), ("sun", "rare")],
        [None, "pets"],
        [None, PUBLIC, PRIVATE],
        [{}, DATES, {"created_after": minutes(100)}],
        [(), q("common"), q("rare"), q("sunset s"), (title("city"), description("sea"))],
    ):
        filters = ListFilters(
            user_id=user, tags=tags, category=category, visibility=visibility, text=text, **dates
        )
        for caller in callers:
            query = query_for(caller, filters)
            if query is not None:
                yield query


def test_every_query_the_listing_service_sends_is_indexed(
    populated: Populated,
) -> None:
    catalog, images, _ = populated
    queries = set(service_queries())
    assert len(queries) > 1000
    for query in queries:
        for after in (None, AFTER, Keyset(minutes(60), "img-0000")):
            assert_indexed(populated, query, after)
            assert catalog.find(query, PAGE, after).images == reference(images, query, after), query
