"""Text search's one rule for words: how a title, a description or a query becomes words, and
when an image matches a text search (``TextSearch.matches``, the reference every catalog's
index must agree with).

A word is a run of letters and digits after Unicode compatibility decomposition, with accents
(combining marks) dropped and case folded: ``Café`` and ``CAFE`` are ``cafe``, ``sunset,`` is
``sunset``, ``rock'n'roll`` is ``rock``, ``n``, ``roll``. Catalogs index these words, never the raw
text, so the embedded and the AWS backend cannot disagree about what a word is.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from image_service.domain.errors import InvalidInput

MAX_QUERY_WORDS = 8
# Distinct words of one image that are searchable, title words first, then the description's in
# order: past them a long description costs index writes (DynamoDB items) without making the
# image easier to find. The rest is stored, only not searchable; uploads and edits say how many.
MAX_INDEXED_WORDS = 100
MAX_WORD_LENGTH = 64  # longer runs (hashes, base64 pasted in a description) are not indexed
_WORD = re.compile(r"[^\W_]+")


class TextField(StrEnum):
    TITLE = "title"
    DESCRIPTION = "description"


BOTH_FIELDS: tuple[TextField, ...] = (TextField.TITLE, TextField.DESCRIPTION)


def words(text: str) -> list[str]:
    """The normalised words of ``text``, in order, repeats kept (see the module's rule)."""
    return [w for w in _runs(text) if len(w) <= MAX_WORD_LENGTH]


def _runs(text: str) -> list[str]:
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _WORD.findall(stripped.casefold())


def distinct_words(text: str) -> list[str]:
    """``words`` without repeats, first occurrence first."""
    return list(dict.fromkeys(words(text)))


def indexed_words(title: str, description: str) -> dict[str, tuple[TextField, ...]]:
    """The searchable words of an image and the fields holding each: at most
    ``MAX_INDEXED_WORDS``, title words first. A word kept from the title is also marked as in
    the description when it is there, however far into it."""
    found: dict[str, list[TextField]] = {}
    for field, text in ((TextField.TITLE, title), (TextField.DESCRIPTION, description)):
        for word in distinct_words(text):
            if word in found:
                found[word].append(field)
            elif len(found) < MAX_INDEXED_WORDS:
                found[word] = [field]
    return {word: tuple(fields) for word, fields in found.items()}


def unindexed_words(title: str, description: str) -> int:
    """How many distinct words of a title and description are past the cap (0 normally)."""
    every = {*distinct_words(title), *distinct_words(description)}
    return len(every) - len(indexed_words(title, description))


@dataclass(frozen=True, slots=True)
class TextSearch:
    """One text parameter of a list: ``q`` (both fields), ``title=`` or ``description=``.

    Every word must occur in one of ``fields``; the last word also matches as a prefix
    (``sun`` finds "sunset"), for search as you type."""

    fields: tuple[TextField, ...]
    words: tuple[str, ...]

    @property
    def exact(self) -> tuple[str, ...]:
        """The words that must occur whole."""
        return self.words[:-1]

    @property
    def prefix(self) -> str:
        """The last word: some word of the fields must start with it."""
        return self.words[-1]

    def matches(self, title: str, description: str) -> bool:
        indexed = indexed_words(title, description)
        present = {w for w, fields in indexed.items() if not set(fields).isdisjoint(self.fields)}
        return all(w in present for w in self.exact) and any(w.startswith(self.prefix) for w in present)

    def key(self) -> list[str]:
        """A stable description for cursor fingerprints."""
        return [",".join(self.fields), *self.words]


def search(parameter: str, value: str, fields: tuple[TextField, ...]) -> TextSearch:
    """The ``TextSearch`` for a query parameter's raw value; 400 unless it has 1 to 8 words."""
    if any(len(run) > MAX_WORD_LENGTH for run in _runs(value)):
        # Such a run is never indexed: dropping it from the query would answer a wider search.
        raise InvalidInput(f"{parameter} has a word longer than {MAX_WORD_LENGTH} letters and digits")
    found = words(value)
    if not found:
        raise InvalidInput(f"{parameter} must contain at least one word (letters or digits)")
    if len(found) > MAX_QUERY_WORDS:
        raise InvalidInput(f"{parameter} may contain at most {MAX_QUERY_WORDS} words, not {len(found)}")
    return TextSearch(fields, tuple(found))
