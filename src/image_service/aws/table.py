"""The one definition of the DynamoDB table: keys, indexes, shards, TTL.

The adapter, `image-service emulate`, the tests and the deploy template all read it from here, so
the table a test creates is the table production runs on. See docs/ARCHITECTURE.md for the access
patterns each index serves.

Items (every key is a string):

===================  ================  =========================================================
PK                   SK                what
===================  ================  =========================================================
IMAGE#<id>           IMAGE             the image: every field, the counters; GSI1-3 keys
IMAGE#<id>           TAG#<tag>         one per tag: the filter attributes; GSI4 keys
IMAGE#<id>           WORD#<word>       one per indexed word: the filter attributes, its fields; GSI5
IMAGE#<id>           PREFIX#<p>        one per 1-3 letter prefix of its words: those words; GSI5
VOCAB#<first 3>      <word>            one per word of the whole table: how many images hold it
USERCOUNT#<u>#<vis>  COUNT             how many images user u has of that visibility
NAME#<name>          NAME              the unique name -> image_id
APIKEY#<sha256>      APIKEY            an API key (hash only); GSI1 lists them
PENDING#<id>         PENDING           a direct upload in progress; GSI2 finds expired ones
IDEMPOTENCY#<u>#<k>  IDEMPOTENCY       Idempotency-Key k of user u: claim, image ids, answer
===================  ================  =========================================================

Indexes (sort key always ``<created_at ISO>#<image_id>``, so one Query is newest first):

- GSI1 ``by_user``: ``USER#<user>#<visibility>`` (and ``APIKEYS`` for the key list).
- GSI2 ``by_visibility``: ``VIS#<visibility>#<shard>`` (and ``PENDING`` by expiry).
- GSI3 ``by_category``: ``CAT#<category>#<shard>``.
- GSI4 ``by_tag``: ``TAG#<tag>#<shard>``.
- GSI5 ``by_text``: ``WORD#<word>#<shard>`` and ``PREFIX#<prefix>#<shard>`` (text search).

The feeds that every upload writes to (visibility, popular categories and tags) are split over
``SHARDS`` partitions by a hash of the image id, so no single partition takes every write; a list
reads the shards in parallel and merges them. A user's partition is not sharded: one user does
not upload a thousand images a second.

Indexes project only what a list filters on; the page's images are then read from the base table
with one BatchGetItem, so the counters that every view updates live in one item and a view writes
one item, not one per index.
"""

from __future__ import annotations

import zlib
from typing import Any

SHARDS = 4
PK, SK = "PK", "SK"
TTL_ATTRIBUTE = "expires_ttl"

# (index name, partition key attribute, sort key attribute)
BY_USER = ("by_user", "GSI1PK", "GSI1SK")
BY_VISIBILITY = ("by_visibility", "GSI2PK", "GSI2SK")
BY_CATEGORY = ("by_category", "GSI3PK", "GSI3SK")
BY_TAG = ("by_tag", "GSI4PK", "GSI4SK")
BY_TEXT = ("by_text", "GSI5PK", "GSI5SK")
INDEXES = (BY_USER, BY_VISIBILITY, BY_CATEGORY, BY_TAG, BY_TEXT)

# What the indexes carry besides their keys: the list filters, and the API-key fields so that
# `keys list` is one Query.
PROJECTED = (
    "image_id",
    "user_id",
    "visibility",
    "category",
    "tags",
    "created_at",
    "key_id",
    "key_hash",
    "is_admin",
    "revoked_at",
    "expires_at",
)
# Text items also carry which fields hold their word, or which words have their prefix.
TEXT_PROJECTED = ("fields", "title_words", "description_words")


def shard_of(image_id: str) -> int:
    return zlib.crc32(image_id.encode()) % SHARDS


def key_schema() -> list[dict[str, str]]:
    return [{"AttributeName": PK, "KeyType": "HASH"}, {"AttributeName": SK, "KeyType": "RANGE"}]


def attribute_definitions() -> list[dict[str, str]]:
    names = [PK, SK] + [attr for _, pk, sk in INDEXES for attr in (pk, sk)]
    return [{"AttributeName": name, "AttributeType": "S"} for name in names]


def global_secondary_indexes() -> list[dict[str, Any]]:
    return [
        {
            "IndexName": name,
            "KeySchema": [
                {"AttributeName": pk, "KeyType": "HASH"},
                {"AttributeName": sk, "KeyType": "RANGE"},
            ],
            "Projection": {
                "ProjectionType": "INCLUDE",
                "NonKeyAttributes": [*PROJECTED, *(TEXT_PROJECTED if name == BY_TEXT[0] else ())],
            },
        }
        for name, pk, sk in INDEXES
    ]


def create_table_request(table_name: str) -> dict[str, Any]:
    """The CreateTable request (on-demand); the deploy template holds the same definition."""
    return {
        "TableName": table_name,
        "KeySchema": key_schema(),
        "AttributeDefinitions": attribute_definitions(),
        "GlobalSecondaryIndexes": global_secondary_indexes(),
        "BillingMode": "PAY_PER_REQUEST",
    }
