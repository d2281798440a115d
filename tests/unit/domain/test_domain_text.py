"""The one rule for words (domain/text.py) and the reference semantics of a text search."""

from __future__ import annotations

import pytest

from image_service.domain.errors import InvalidInput
from image_service.domain.text import BOTH_FIELDS, MAX_WORD_LENGTH, TextField, distinct_words, search, words


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Café au LAIT", ["cafe", "au", "lait"]),
        ("sunset, sea!", ["sunset", "sea"]),
        ("rock'n'roll", ["rock", "n", "roll"]),
        ("snake_case and-dash", ["snake", "case", "and", "dash"]),
        ("\uff26\uff55\uff4c\uff4c \ufb01ne", ["full", "fine"]),  # fullwidth letters, the fi ligature
        ("Straße", ["strasse"]),
        ("naïve Ångström", ["naive", "angstrom"]),
        ("42 photos, 2026", ["42", "photos", "2026"]),
        ("日本 写真", ["日本", "写真"]),
        ("", []),
        (" ,;!? ", []),
    ],
)
def test_words_are_folded_runs_of_letters_and_digits(text: str, expected: list[str]) -> None:
    assert words(text) == expected


def test_overlong_runs_are_not_words() -> None:
    assert words("a" * (MAX_WORD_LENGTH + 1) + " kept") == ["kept"]
    assert words("a" * MAX_WORD_LENGTH) == ["a" * MAX_WORD_LENGTH]


def test_distinct_words_keep_the_first_occurrence_order() -> None:
    assert distinct_words("Sea sun SEA moon sun") == ["sea", "sun", "moon"]


def test_a_search_needs_every_word_and_takes_the_last_as_a_prefix() -> None:
    both = search("q", "Café SUN", BOTH_FIELDS)
    assert both.words == ("cafe", "sun")
    assert both.exact == ("cafe",) and both.prefix == "sun"
    assert both.matches("Cafe", "a sunset")
    assert both.matches("sunny café", "")
    assert not both.matches("cafeteria sunset", "")  # "cafe" is not last: it must be whole
    assert not both.matches("cafe", "moon")


def test_a_field_restricted_search_looks_only_there() -> None:
    title = search("title", "sample", (TextField.TITLE,))
    assert title.matches("A Sample", "")
    assert not title.matches("", "A sample")
    assert search("description", "sample", (TextField.DESCRIPTION,)).matches("", "samples")


@pytest.mark.parametrize("value", ["", "   ", ",,,", "'!?"])
def test_a_search_without_words_is_refused(value: str) -> None:
    with pytest.raises(InvalidInput, match="q must contain at least one word"):
        search("q", value, BOTH_FIELDS)


def test_more_than_eight_words_are_refused() -> None:
    assert len(search("q", "a b c d e f g h", BOTH_FIELDS).words) == 8
    with pytest.raises(InvalidInput, match="at most 8 words, not 9"):
        search("q", "a b c d e f g h i", BOTH_FIELDS)


def test_a_query_word_longer_than_any_indexed_one_is_refused() -> None:
    with pytest.raises(InvalidInput, match="longer than 64"):
        search("q", "sunset " + "x" * (MAX_WORD_LENGTH + 1), BOTH_FIELDS)
