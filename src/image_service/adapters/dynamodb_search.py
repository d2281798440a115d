"""Which ``by_text`` partitions drive a list with text search, and what their items can check.

A list with ``q``, ``title=`` or ``description=`` is driven by the text index, from the word
that selects the fewest images as far as the vocabulary counts tell (one BatchGetItem for the
whole words, one Query per 4+ letter last word to expand it):

- a whole word ``w``: the partitions ``WORD#w#*``;
- a last word (prefix) of 4+ letters: the ``WORD#`` partitions of every vocabulary word that
  starts with it, merged (an image holding "sunset" and "sunsets" is in two of them; the merger
  drops the repeat). A prefix of more than ``MAX_EXPANSION`` words is answered instead from
  ``PREFIX#<first 3 letters>#*`` with ``contains`` on the words its items list;
- a last word of 1-3 letters: ``PREFIX#p#*``, one item per image.

The driving items tell whether their own word is in the field asked for (``fields``, or the
prefix item's word lists), so a one-word search is answered exactly by the FilterExpression.
Further words, and further text parameters, are checked on the image itself when the page's
images are read (the index items would have to carry every word of the image to check them:
each would weigh up to a kilobyte, and any title change would rewrite them all).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from image_service.adapters.dynamodb_items import S
from image_service.adapters.dynamodb_words import PREFIX_LENGTHS, PREFIX_SK, WORD_SK
from image_service.domain.text import BOTH_FIELDS, TextSearch

MAX_EXPANSION = 6  # words a prefix may expand to before its 3-letter prefix partition is read
Counts = Callable[[list[str]], dict[str, int]]
Expand = Callable[[str, int], dict[str, int] | None]


@dataclass(frozen=True)
class TextDriver:
    """The text partitions (SKs of the driving items, without shard) and their filter."""

    keys: tuple[str, ...]
    conditions: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    exact: bool = False  # the filter decides every text search: nothing is left to re-check
    estimate: float = math.inf  # how many images the vocabulary says the driving term is in


@dataclass(frozen=True)
class _Candidate:
    estimate: float
    search: TextSearch
    words: tuple[str, ...]  # the WORD# partitions; empty for a PREFIX# partition
    prefix: str = ""  # the prefix whose PREFIX# partition drives

    def driver(self, exact: bool) -> TextDriver:
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        conditions: list[str] = []
        fields = self.search.fields
        if self.words:
            keys = tuple(WORD_SK + w for w in self.words)
            if fields != BOTH_FIELDS:
                names["#fields"] = "fields"
                values[":field"] = S(fields[0].value)
                conditions.append("contains(#fields, :field)")
        else:
            short = self.prefix[: PREFIX_LENGTHS[-1]]
            keys = (PREFIX_SK + short,)
            if short != self.prefix or fields != BOTH_FIELDS:
                values[":prefix"] = S(" " + self.prefix)
                either = []
                for f in fields:
                    names[f"#{f.value}_words"] = f"{f.value}_words"
                    either.append(f"contains(#{f.value}_words, :prefix)")
                conditions.append("(" + " OR ".join(either) + ")")
        return TextDriver(keys, conditions, names, values, exact, self.estimate)


def choose(searches: tuple[TextSearch, ...], counts: Counts, expand: Expand) -> TextDriver | None:
    """The driver for these text searches (all must match); None when no image can match (a
    whole word, or every word of a prefix, absent from the vocabulary)."""
    whole = [w for s in searches for w in s.exact]
    known = counts(whole) if whole else {}
    if any(w not in known for w in whole):
        return None
    candidates = [_Candidate(known[w], s, (w,)) for s in searches for w in s.exact]
    for search in searches:
        if len(search.prefix) > PREFIX_LENGTHS[-1]:
            expanded = expand(search.prefix, MAX_EXPANSION)
            if expanded is not None:
                if not expanded:
                    return None
                candidates.append(_Candidate(sum(expanded.values()), search, tuple(sorted(expanded))))
                continue
        # Unknown size: worse than any counted word, and the longer prefix the better.
        candidates.append(_Candidate(math.inf, search, (), search.prefix))
    best = min(candidates, key=lambda c: (c.estimate, -len(c.prefix), bool(c.prefix)))
    return best.driver(exact=len(searches) == 1 and not searches[0].exact)
