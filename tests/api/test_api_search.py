"""GET /images with text search over HTTP, on each backend: `q`, and the older clients'
`title=` and `description=` (API.md, List).

Every test searches for words made up for it (``token``), so images of other tests never match.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from api_helpers import assert_error, list_all, upload_image, upload_json

from image_service.domain.text import MAX_INDEXED_WORDS

pytestmark = pytest.mark.api


def token() -> str:
    """A word no other image has: letters and digits only, so it stays one word."""
    return "w" + uuid.uuid4().hex[:12]


def found(client: httpx.Client, **params: Any) -> list[str]:
    return [i["image_id"] for i in list_all(client, **params)]


def test_q_ignores_case_accents_and_punctuation(alice: httpx.Client, anon: httpx.Client) -> None:
    word = token()
    image = upload_image(alice, title=f"Café au bord, {word}!", description="Près de l'Été")
    assert image["title"] == f"Café au bord, {word}!"  # the text is kept as written
    for q in (f"cafe {word}", f"CAFÉ, {word.upper()}", f"{word} ete", f"pres {word}"):
        assert found(anon, q=q) == [image["image_id"]], q
    assert found(anon, q=f"cafes {word}") == []


def test_the_last_word_is_also_a_prefix(alice: httpx.Client, anon: httpx.Client) -> None:
    word = token()
    image = upload_image(alice, title=f"{word}sunset")
    assert found(anon, q=f"{word}sun") == [image["image_id"]]
    assert found(anon, q=f"{word}sunset") == [image["image_id"]]
    # Only the last word: an earlier one must be whole.
    assert found(anon, q=f"{word}sun {word}sunset") == []


def test_every_word_must_match_in_either_field(alice: httpx.Client, anon: httpx.Client) -> None:
    word = token()
    both = upload_image(alice, title=f"{word} sunset", description="over the sea")
    upload_image(alice, title=f"{word} sunset")
    assert found(anon, q=f"{word} sea sunset") == [both["image_id"]]
    assert found(anon, q=f"{word} sunset sea") == [both["image_id"]]
    assert len(found(anon, q=f"{word} sunset")) == 2


def test_title_and_description_restrict_the_search_and_combine(
    alice: httpx.Client, anon: httpx.Client
) -> None:
    word = token()
    in_title = upload_image(alice, title=f"Sample {word}", description="plain")
    in_description = upload_image(alice, title="plain", description=f"Sample {word}")
    assert found(anon, title=word) == [in_title["image_id"]]
    assert found(anon, description=word) == [in_description["image_id"]]
    assert found(anon, q=word) == [in_description["image_id"], in_title["image_id"]]
    assert found(anon, title=f"sample {word}", description="plain") == [in_title["image_id"]]
    assert found(anon, q=word, title="plain") == [in_description["image_id"]]
    assert found(anon, title=word, description=word) == []


def test_text_combines_with_the_other_filters(
    alice: httpx.Client, bob: httpx.Client, anon: httpx.Client
) -> None:
    word = token()
    tag = token()
    mine = upload_image(alice, title=word, tags=[tag], category="pets")
    theirs = upload_image(bob, title=word, tags=[tag])
    upload_image(alice, title=word, category="art")
    assert found(anon, q=word, user_id="alice", tag=tag) == [mine["image_id"]]
    assert found(anon, q=word, tag=tag) == [theirs["image_id"], mine["image_id"]]
    assert found(anon, q=word, category="pets") == [mine["image_id"]]


def test_private_images_are_found_only_by_who_may_see_them(
    alice: httpx.Client, bob: httpx.Client, anon: httpx.Client, admin: httpx.Client
) -> None:
    word = token()
    public = upload_image(bob, title=word)
    private = upload_image(alice, title=word, visibility="private")
    assert found(anon, q=word) == [public["image_id"]]
    assert found(bob, q=word) == [public["image_id"]]
    assert found(alice, q=word) == [private["image_id"], public["image_id"]]
    assert found(admin, q=word) == [private["image_id"], public["image_id"]]
    assert found(bob, q=word, visibility="private") == []


def test_the_index_follows_edits_and_deletes(alice: httpx.Client, anon: httpx.Client) -> None:
    old, new = token(), token()
    image = upload_image(alice, title=old, description="kept")
    response = alice.patch(f"/images/{image['image_id']}", json={"title": new})
    assert response.status_code == 200, response.text
    assert found(anon, q=old) == []
    assert found(anon, q=new) == [image["image_id"]]
    assert found(anon, q=f"{new} kept") == [image["image_id"]]
    response = alice.patch(f"/images/{image['image_id']}", json={"description": f"{old} again"})
    assert response.status_code == 200, response.text
    assert found(anon, q=old) == [image["image_id"]]
    assert alice.delete(f"/images/{image['image_id']}").status_code == 200
    assert found(anon, q=new) == []
    assert found(anon, q=old) == []


def test_pages_of_a_search_walk_every_match_once_newest_first(
    alice: httpx.Client, anon: httpx.Client
) -> None:
    word = token()
    made = [upload_image(alice, title=f"{word} number {n}")["image_id"] for n in range(7)]
    seen: list[str] = []
    params: dict[str, Any] = {"q": word, "limit": 2}
    while True:
        body = anon.get("/images", params=params).json()
        assert body["images"], "a page is never empty while has_more"
        seen += [i["image_id"] for i in body["images"]]
        if not body["has_more"]:
            break
        params["cursor"] = body["next_cursor"]
    assert seen == made[::-1]
    # A cursor belongs to its search: with other words it is refused.
    first = anon.get("/images", params={"q": word, "limit": 2}).json()
    response = anon.get("/images", params={"q": f"{word} number", "cursor": first["next_cursor"]})
    assert "cursor" in assert_error(response, 400)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"q": ""}, "q must contain at least one word"),
        ({"q": " ,;! "}, "q must contain at least one word"),
        ({"title": "--"}, "title must contain at least one word"),
        ({"description": ""}, "description must contain at least one word"),
        ({"q": "a b c d e f g h i"}, "q may contain at most 8 words"),
    ],
)
def test_a_search_without_words_or_with_too_many_is_400(
    anon: httpx.Client, params: dict[str, str], message: str
) -> None:
    assert message in assert_error(anon.get("/images", params=params), 400)


def test_words_past_the_cap_are_kept_but_not_searchable_and_the_answer_says_so(
    alice: httpx.Client, anon: httpx.Client
) -> None:
    word = token()
    many = [f"{word}{n}" for n in range(MAX_INDEXED_WORDS + 4)]
    response = alice.post("/images", json={**upload_json(), "title": word, "description": " ".join(many)})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["unindexed_words"] == 5, "the title word took one of the places"
    assert body["metadata"]["description"] == " ".join(many), "nothing is lost but searchability"
    image_id = body["image_id"]
    assert found(anon, q=many[MAX_INDEXED_WORDS - 2]) == [image_id]
    assert found(anon, q=many[-1]) == []
    edited = alice.patch(f"/images/{image_id}", json={"description": " ".join(many[:10])})
    assert edited.status_code == 200 and "unindexed_words" not in edited.json(), edited.text
    assert found(anon, q=many[9]) == [image_id]
    assert "unindexed_words" not in upload_image_answer(alice)


def upload_image_answer(client: httpx.Client) -> dict[str, Any]:
    response = client.post("/images", json=upload_json(title="short"))
    assert response.status_code == 201, response.text
    return dict(response.json())
