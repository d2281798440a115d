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
MAX_WORD_LENGTH = 64  # longer runs (hashes, base64 pasted in a description) are not indexed
_WORD = re.compile(r"[^\W_]+")


class TextField(StrEnum):
    TITLE = "title"
    DESCRIPTION = "description"


BOTH_FIELDS: tuple[TextField, ...] = (TextField.TITLE, TextField.DESCRIPTION)


def words(text: str) -> list[str]:
    """The normalised words of ``text``, in order, repeats kept (see the module's rule)."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return [w for w in _WORD.findall(stripped.casefold()) if len(w) <= MAX_WORD_LENGTH]


def distinct_words(text: str) -> list[str]:
    """``words`` without repeats, first occurrence first."""
    return list(dict.fromkeys(words(text)))


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
        texts = {TextField.TITLE: title, TextField.DESCRIPTION: description}
        present = {w for f in self.fields for w in words(texts[f])}
        return all(w in present for w in self.exact) and any(w.startswith(self.prefix) for w in present)

    def key(self) -> list[str]:
        """A stable description for cursor fingerprints."""
        return [",".join(self.fields), *self.words]


def search(parameter: str, value: str, fields: tuple[TextField, ...]) -> TextSearch:
    """The ``TextSearch`` for a query parameter's raw value; 400 unless it has 1 to 8 words."""
    found = words(value)
    if not found:
        raise InvalidInput(f"{parameter} must contain at least one word (letters or digits)")
    if len(found) > MAX_QUERY_WORDS:
        raise InvalidInput(f"{parameter} may contain at most {MAX_QUERY_WORDS} words, not {len(found)}")
    return TextSearch(fields, tuple(found))
