"""Text search's items on DynamoDB: which words of an image are indexed, and the word, prefix and
vocabulary items that index them (the way tag items index tags).

Per image, beside its tag items (PK ``IMAGE#<id>``):

- ``WORD#<w>``: one per distinct indexed word, with the filter attributes (as tag items) and
  ``fields`` (``"title"``, ``"description"`` or both, space-separated), in ``by_text`` under
  ``WORD#<w>#<shard>``. A one-word ``q`` for a word Queries its partitions.
- ``PREFIX#<p>``: one per distinct 1-3 letter prefix of those words, with ``title_words`` and
  ``description_words``: the words having that prefix, as `` w1 w2 `` (a space before and after
  each), so ``contains(title_words, " sunse")`` tells a longer prefix. In ``by_text`` under
  ``PREFIX#<p>#<shard>``: a short last word (search as you type) reads one partition instead of
  merging every word that starts with it.

Per distinct word of the whole table, ``VOCAB#<first 3 letters>`` / ``<word>`` with ``images``,
the number of images holding it (ADD on every change): a 4+ letter prefix expands to its words
with one ``begins_with`` Query, and the planner drives a query from its rarest word. Vocabulary
items are never deleted (a count may drift under concurrent writes; a word that vanished from
the vocabulary would vanish from prefix search), so a word once seen stays at 0.

Per user and visibility, ``USERCOUNT#<user>#<visibility>`` / ``COUNT`` with ``images``: the size
of that user's partition of ``by_user``, so that a search with ``user_id`` can be driven from the
user's images when they are fewer than the rarest word's. Uploads, PATCHes and deletes ADD to
it; ``image-service reindex`` rewrites every user's counts from its walk (an older catalog's
images were stored before counting began). The planner trusts only a count present for every
visibility asked and not below 0; otherwise the word drives.

The cost is bounded by ``domain.text.MAX_INDEXED_WORDS`` distinct words per image (title words
first, then description words, in order of first occurrence; the same rule on every backend):
words past it are stored but not searchable.
"""

from __future__ import annotations

from image_service.adapters.dynamodb_items import (
    Item,
    N,
    S,
    filter_attributes,
    image_partition,
    order_key,
)
from image_service.aws.table import BY_TEXT, PK, SK, shard_of
from image_service.domain.models import Image, Visibility
from image_service.domain.text import TextField, indexed_words

PREFIX_LENGTHS = (1, 2, 3)  # prefixes as long as this have items of their own
VOCAB_PREFIX = 3  # letters of a word that name its vocabulary partition
WORD_SK, PREFIX_SK = "WORD#", "PREFIX#"


def word_key(image_id: str, word: str) -> Item:
    return {PK: S(image_partition(image_id)), SK: S(WORD_SK + word)}


def prefix_key(image_id: str, prefix: str) -> Item:
    return {PK: S(image_partition(image_id)), SK: S(PREFIX_SK + prefix)}


def word_partition(word: str, shard: int) -> str:
    return f"WORD#{word}#{shard}"


def prefix_partition(prefix: str, shard: int) -> str:
    return f"PREFIX#{prefix}#{shard}"


def text_sort_key_of(partition: str) -> str:
    """The SK of an image's text item back from its ``by_text`` partition (words hold no "#")."""
    return partition.rpartition("#")[0]


def vocab_key(word: str) -> Item:
    return {PK: S(vocab_partition(word)), SK: S(word)}


def vocab_partition(word_or_prefix: str) -> str:
    return f"VOCAB#{word_or_prefix[:VOCAB_PREFIX]}"


def user_count_key(user_id: str, visibility: Visibility) -> Item:
    return {PK: S(f"USERCOUNT#{user_id}#{visibility.value}"), SK: S("COUNT")}


def word_list(words: list[str]) -> str:
    """`` w1 w2 ``: each word with a space before and after, for ``contains``."""
    return " " + " ".join(words) + " " if words else " "


def text_items(image: Image) -> dict[str, Item]:
    """Every text item of ``image``, by SK."""
    shard = shard_of(image.image_id)
    common = {
        **filter_attributes(image),
        BY_TEXT[2]: S(order_key(image.created_at, image.image_id)),
    }
    items: dict[str, Item] = {}
    prefixes: dict[str, dict[TextField, list[str]]] = {}
    for word, fields in indexed_words(image.title, image.description).items():
        items[WORD_SK + word] = {
            **word_key(image.image_id, word),
            **common,
            "fields": S(" ".join(sorted(fields))),
            BY_TEXT[1]: S(word_partition(word, shard)),
        }
        for length in PREFIX_LENGTHS:
            if length <= len(word):
                by_field = prefixes.setdefault(word[:length], {f: [] for f in TextField})
                for field in fields:
                    by_field[field].append(word)
    for prefix, by_field in prefixes.items():
        items[PREFIX_SK + prefix] = {
            **prefix_key(image.image_id, prefix),
            **common,
            "title_words": S(word_list(by_field[TextField.TITLE])),
            "description_words": S(word_list(by_field[TextField.DESCRIPTION])),
            BY_TEXT[1]: S(prefix_partition(prefix, shard)),
        }
    return items


def word_of(sort_key: str) -> str | None:
    """The word of a ``WORD#`` item's SK; None for other items."""
    return sort_key.removeprefix(WORD_SK) if sort_key.startswith(WORD_SK) else None


def vocab_update(word: str, delta: int) -> dict[str, object]:
    """The UpdateItem arguments (without the table) that count ``delta`` more images with ``word``."""
    return {
        "Key": vocab_key(word),
        "UpdateExpression": "ADD images :delta",
        "ExpressionAttributeValues": {":delta": N(delta)},
    }
