"""domain/models.py ImageQuery: the one "who sees what" rule and the canonical form catalogs plan.

The catalogs' own answers to these queries are checked in tests/contract; here, the rule itself:
folding ``visible_to`` never changes what a query matches, and one image is visible exactly
when the list rule would show it.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from image_service.domain.access import can_see
from image_service.domain.models import ADMIN, ANONYMOUS, Caller, Image, ImageQuery, Visibility

USERS = [None, "alice", "bob"]
T0 = datetime(2026, 1, 1, tzinfo=UTC)
IMAGES = [
    Image(
        image_id=f"{owner}-{visibility}",
        user_id=owner,
        name=f"{owner}-{visibility}",
        filename="x.png",
        content_type="image/png",
        format="png",
        width=1,
        height=1,
        size=1,
        checksum_sha256="0" * 64,
        blob_key=f"{owner}/x",
        created_at=T0,
        updated_at=T0,
        visibility=visibility,
    )
    for owner, visibility in itertools.product(["alice", "bob", "carol"], Visibility)
]
QUERIES = [
    ImageQuery(user_id=user, visibility=visibility, visible_to=visible_to)
    for user, visibility, visible_to in itertools.product(USERS, [None, *Visibility], USERS)
]
ALICE = Caller(user_id="alice")
CALLERS = [ANONYMOUS, ADMIN, ALICE, Caller(user_id="alice", trusted=True), Caller(trusted=True)]


@pytest.mark.parametrize("query", QUERIES, ids=repr)
def test_the_canonical_form_matches_what_the_query_matches(query: ImageQuery) -> None:
    canonical = query.canonical()
    wanted = [i.image_id for i in IMAGES if query.matches(i)]
    if canonical is None:
        assert wanted == []
        assert query.arms() == ()
        return
    assert [i.image_id for i in IMAGES if canonical.matches(i)] == wanted
    # visible_to survives only where no other filter decides it: "public or mine" as two arms
    assert canonical.visible_to is None or (canonical.user_id is None and canonical.visibility is None)
    arms = query.arms()
    assert all(arm.visible_to is None for arm in arms)
    hits = [i.image_id for arm in arms for i in IMAGES if arm.matches(i)]
    assert sorted(hits) == sorted(wanted)  # disjoint: no image in two arms


@pytest.mark.parametrize("caller", CALLERS, ids=repr)
@pytest.mark.parametrize("filters", [q for q in QUERIES if q.visible_to is None], ids=repr)
def test_a_list_shows_exactly_the_images_the_caller_may_see(caller: Caller, filters: ImageQuery) -> None:
    query = filters.for_caller(caller)
    shown = [i.image_id for i in IMAGES if query is not None and query.matches(i)]
    assert shown == [i.image_id for i in IMAGES if filters.matches(i) and can_see(caller, i)]
    assert query is None or query.canonical() == query
